"""Applying carrier snapshots to shipments, and what customers may see of them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from portal.db import utcnow
from portal.domain import events, tracking
from portal.domain.errors import NotFound
from portal.domain.events import DomainEvent
from portal.integrations.aftership import parse_tracking
from portal.models import (
    CarrierWebhookEvent,
    MailMessage,
    Notification,
    Order,
    OrderEvent,
    OrderStatus,
    Shipment,
    TrackingEvent,
    UserPreference,
)
from tests.factories import make_customer, principal_for
from tests.factories_tracking import make_shipment, make_simulator
from tests.support.aio import run_async


def snapshot_after(sim_hours: float, scenario: str, tracking_number: str) -> list[dict]:
    """The carrier's snapshots of one shipment, one per checkpoint, within `sim_hours`."""
    sim = make_simulator()
    t = sim.add_tracking(slug="dhl", tracking_number=tracking_number, scenario=scenario)
    out = []
    for _ in range(int(sim_hours)):
        before = len(t.checkpoints)
        run_async(sim.advance(3600))
        if len(t.checkpoints) != before:
            out.append(sim.snapshot(t))
    return out


def test_applying_the_same_snapshot_twice_changes_nothing_the_second_time(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer, checkpoints=0)
    snap = parse_tracking(snapshot_after(12, "standard", shipment.tracking_number)[-1])
    first = tracking.apply_snapshot(db, shipment=shipment, snapshot=snap)
    db.commit()
    second = tracking.apply_snapshot(db, shipment=shipment, snapshot=snap)
    db.commit()
    assert (first.outcome, first.new_checkpoints) == ("applied", 4)
    assert (second.outcome, second.new_checkpoints) == ("unchanged", 0)
    assert db.exec(select(func.count()).select_from(TrackingEvent)).one() == 4


def test_a_delay_keeps_the_first_promise_and_tells_the_customer_by_their_preference(db: Session) -> None:
    # Given a customer who wants shipping news in the portal only, not by email
    user, customer = make_customer(db)
    db.add(UserPreference(user_id=user.id or 0, email_shipping=False))
    db.commit()
    shipment = make_shipment(db, customer, checkpoints=0)
    snaps = [parse_tracking(s) for s in snapshot_after(16, "delay", shipment.tracking_number)]
    seen: list[DomainEvent] = []
    events.subscribe(seen.extend)
    try:
        # When the carrier reports the parcel, then a delay that moves its estimate
        for snap in snaps:
            tracking.apply_snapshot(db, shipment=shipment, snapshot=snap)
            db.commit()
    finally:
        events.unsubscribe(seen.extend)
    db.refresh(shipment)
    first = snaps[0].first_expected
    assert first is not None and first.end is not None and shipment.expected_delivery_end is not None
    # Then the original promise is kept beside the new one
    assert shipment.original_expected_delivery == first.end
    assert shipment.expected_delivery_end - first.end == timedelta(hours=48)
    # And the customer is told in the portal, not by email, and the order records it
    note = db.exec(select(Notification).where(Notification.user_id == user.id)).one()
    assert "delayed" in note.title and note.link == f"/shipments/{shipment.id}" and note.kind == "shipping"
    # ... with help one click away, pre-filled about this shipment
    assert note.help_link == f"/support/new?about=shipment:{shipment.id}"
    assert db.exec(select(func.count()).select_from(MailMessage)).one() == 0
    assert db.exec(select(OrderEvent.kind).where(OrderEvent.order_id == shipment.order_id)).all() == [
        "delivery_delayed"]
    # And open browsers of this customer hear of every change
    assert {e.topic for e in seen} >= {"shipments", "notifications"}
    assert all(e.customer_id == customer.id for e in seen if e.topic == "shipments")


def test_delivery_completes_the_order_stops_polling_and_emails_by_default(db: Session) -> None:
    user, customer = make_customer(db)
    shipment = make_shipment(db, customer, checkpoints=0, next_poll_at=utcnow() + timedelta(days=1))
    snaps = snapshot_after(40, "standard", shipment.tracking_number)
    for raw in snaps:
        tracking.apply_snapshot(db, shipment=shipment, snapshot=parse_tracking(raw))
        db.commit()
    db.refresh(shipment)
    order = db.get(Order, shipment.order_id)
    assert order is not None
    db.refresh(order)
    assert shipment.tag == "Delivered" and shipment.delivered_at is not None and shipment.next_poll_at is None
    assert order.status == OrderStatus.DELIVERED
    kinds = db.exec(select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.id))).all()
    assert kinds == ["out_for_delivery", "delivered"]
    subjects = db.exec(select(MailMessage.subject).where(MailMessage.to_address == user.email)).all()
    assert len(subjects) == 2 and any("delivered" in s for s in subjects)
    # Nothing went wrong: no notification offers help (the control for the ones that do)
    assert set(db.exec(select(Notification.help_link)).all()) == {""}


def test_failed_attempts_and_exceptions_are_told_and_orders_never_go_backwards(db: Session) -> None:
    _, customer = make_customer(db)
    attempt = make_shipment(db, customer, checkpoints=0)
    for raw in snapshot_after(31, "failed_attempt", attempt.tracking_number):
        tracking.apply_snapshot(db, shipment=attempt, snapshot=parse_tracking(raw))
        db.commit()
    lost = make_shipment(db, customer, checkpoints=0)
    for raw in snapshot_after(80, "exception", lost.tracking_number):
        tracking.apply_snapshot(db, shipment=lost, snapshot=parse_tracking(raw))
        db.commit()
    titles = db.exec(select(Notification.title)).all()
    assert any("could not deliver" in t for t in titles)
    assert any("problem" in t for t in titles)
    helps = set(db.exec(select(Notification.help_link)).all())
    assert {f"/support/new?about=shipment:{attempt.id}", f"/support/new?about=shipment:{lost.id}"} <= helps
    kinds = db.exec(select(OrderEvent.kind).where(OrderEvent.order_id == lost.order_id)
                   .order_by(col(OrderEvent.id))).all()
    assert kinds == ["delivery_exception", "returned_to_sender", "returned_to_sender"]  # returning, returned
    assert tracking._order_status_for(OrderStatus.DELIVERED, "InTransit") is None
    assert tracking._order_status_for(OrderStatus.CANCELLED, "Delivered") is None
    assert tracking._order_status_for(OrderStatus.PACKED, "OutForDelivery") == OrderStatus.OUT_FOR_DELIVERY


def test_customer_b_gets_nothing_of_customer_a_shipments(db: Session) -> None:
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_ship = make_shipment(db, ca)
    b_ship = make_shipment(db, cb)
    pa, pb = principal_for(ua), principal_for(ub)
    with pytest.raises(NotFound):
        tracking.get_shipment(db, principal=pb, shipment_id=a_ship.id or 0)
    with pytest.raises(NotFound):
        tracking.get_shipment(db, principal=pb, shipment_id=999_999)
    own = tracking.get_shipment(db, principal=pb, shipment_id=b_ship.id or 0)
    assert own.shipment.tracking_number == b_ship.tracking_number and len(own.checkpoints) == 2
    assert own.checkpoints[0].occurred_at > own.checkpoints[1].occurred_at  # newest first
    assert [s.id for s in tracking.list_shipments(db, principal=pb)] == [b_ship.id]
    assert [s.id for s in tracking.list_shipments(db, principal=pa)] == [a_ship.id]


def test_cadence_by_status_with_jitter_and_backoff() -> None:
    now = utcnow()
    ofd = tracking.next_poll_after("OutForDelivery", now)
    transit = tracking.next_poll_after("InTransit", now)
    assert ofd is not None and transit is not None
    assert timedelta(minutes=13) <= ofd - now <= timedelta(minutes=17)
    assert timedelta(hours=1, minutes=48) <= transit - now <= timedelta(hours=2, minutes=12)
    assert tracking.next_poll_after("Delivered", now) is None
    waits = [tracking.backoff_after(n, now) - now for n in (1, 2, 3, 20)]
    assert waits[0] < waits[1] < waits[2] <= waits[3] <= tracking.MAX_BACKOFF * 1.1
    assert tracking.backoff_after(1, now, retry_after=600) - now >= timedelta(seconds=600)


def test_stale_snapshots_only_add_checkpoints(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer, checkpoints=0)
    snaps = [parse_tracking(s) for s in snapshot_after(12, "standard", shipment.tracking_number)]
    tracking.apply_snapshot(db, shipment=shipment, snapshot=snaps[-1])
    db.commit()
    state = (shipment.tag, shipment.subtag, shipment.provider_updated_at)
    result = tracking.apply_snapshot(db, shipment=shipment, snapshot=snaps[0])
    db.commit()
    stored = db.get(Shipment, shipment.id)
    assert result.outcome == "stale" and stored is not None
    assert (stored.tag, stored.subtag, stored.provider_updated_at) == state


def test_the_shipment_page_reads_every_shown_field_of_the_checkpoints_newest_first(db: Session) -> None:
    user, customer = make_customer(db)
    shipment = make_shipment(db, customer, checkpoints=3)
    # A scan the carrier reported late: stored last, shown in its place by time
    late = TrackingEvent(shipment_id=shipment.id or 0, checkpoint_key="late", tag="InTransit", subtag="InTransit_002",
                         occurred_at=utcnow() - timedelta(hours=9, minutes=30), message="Departed", location="Köln, DE",
                         raw={"large": "x" * 1000})
    db.add(late)
    db.commit()
    detail = tracking.get_shipment(db, principal=principal_for(user), shipment_id=shipment.id or 0)
    stored = db.exec(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
                     .order_by(col(TrackingEvent.occurred_at).desc())).all()
    shown = ("id", "occurred_at", "tag", "subtag", "message", "location")
    assert [tuple(getattr(c, f) for f in shown) for c in detail.checkpoints] == \
        [tuple(getattr(r, f) for f in shown) for r in stored]
    assert [c.message for c in detail.checkpoints][1:3] == ["Seeded scan 1", "Departed"]
    assert detail.order_number and detail.order_number == db.get(Order, shipment.order_id).number  # type: ignore[union-attr]


def test_a_webhook_event_is_stored_once_with_its_outcome(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer, checkpoints=0)
    snap = parse_tracking(snapshot_after(12, "standard", shipment.tracking_number)[-1])
    first = tracking.record_webhook(db, event_id="evt-1", tracking=snap)
    db.commit()
    again = tracking.record_webhook(db, event_id="evt-1", tracking=snap)
    db.commit()
    elsewhere = dataclasses.replace(snap, id="", tracking_number="NOT-OURS")
    unknown = tracking.record_webhook(db, event_id="evt-2", tracking=elsewhere)
    db.commit()
    assert (first.outcome, again.outcome, unknown.outcome) == ("applied", "duplicate", "unknown_shipment")
    stored = db.exec(select(CarrierWebhookEvent.event_id, CarrierWebhookEvent.outcome, CarrierWebhookEvent.shipment_id)
                     .order_by(col(CarrierWebhookEvent.id))).all()
    assert [tuple(r) for r in stored] == [("evt-1", "applied", shipment.id), ("evt-2", "unknown_shipment", None)]
