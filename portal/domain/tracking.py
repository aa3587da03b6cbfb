"""Shipment tracking: apply what the carrier says, and show it to the shipment's owner.

Carrier snapshots arrive by webhook (api/carrier_webhooks.py) and by polling (jobs/tracking.py).
Both end in `apply_snapshot`, in the caller's transaction:
- idempotent: each checkpoint is stored once (TrackingEvent.checkpoint_key), each webhook event
  once (CarrierWebhookEvent.event_id); a duplicate or a retry changes nothing;
- out-of-order safe: the shipment's status and estimate only move forward in the carrier's time
  (Shipment.provider_updated_at); an older snapshot can add a checkpoint we missed, nothing else;
- the first promised delivery is kept, so the page can show whether delivery slipped;
- out for delivery and delivered move the order along; the customer is told about delays,
  exceptions, failed attempts, out for delivery and delivery.

The carrier-facing functions act for no person (the caller authenticated the carrier);
the customer-facing ones take the principal and scope everything to its customer.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal import format as fmt
from portal.db import utcnow
from portal.domain import events
from portal.domain.errors import NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.notifications import notify_customer
from portal.domain.principal import Principal, require_customer
from portal.i18n import tr
from portal.integrations.aftership import Tracking
from portal.models import (
    CarrierWebhookEvent,
    NotificationKind,
    Order,
    OrderEvent,
    OrderStatus,
    Shipment,
    ShipmentPublic,
    TrackingEvent,
    TrackingEventPublic,
    TrackingTag,
)

T = TrackingTag
FINAL_TAGS = frozenset({T.DELIVERED, T.EXPIRED})
RETURNED_SUBTAGS = frozenset({"Exception_010", "Exception_011"})

# How often the sweeper asks the carrier, by status: often when the parcel is about to arrive,
# never once it has.
CADENCE: dict[str, timedelta | None] = {
    T.PENDING: timedelta(hours=6),
    T.INFO_RECEIVED: timedelta(hours=4),
    T.IN_TRANSIT: timedelta(hours=2),
    T.OUT_FOR_DELIVERY: timedelta(minutes=15),
    T.ATTEMPT_FAIL: timedelta(hours=1),
    T.AVAILABLE_FOR_PICKUP: timedelta(hours=6),
    T.EXCEPTION: timedelta(hours=2),
    T.DELIVERED: None,
    T.EXPIRED: None,
}
JITTER = 0.1  # ±10 %, so shipments created together do not poll together forever
MAX_BACKOFF = timedelta(hours=6)
LEASE = timedelta(minutes=5)

_rng = random.Random()  # noqa: S311 - jitter, not secrets


def next_poll_after(tag: str, now: datetime, *, rng: random.Random = _rng) -> datetime | None:
    base = CADENCE.get(tag, timedelta(hours=2))
    if base is None:
        return None
    return now + base * (1 + rng.uniform(-JITTER, JITTER))


def backoff_after(failures: int, now: datetime, *, retry_after: float = 0.0, rng: random.Random = _rng) -> datetime:
    """Exponential backoff from one minute, capped; never sooner than the carrier asked."""
    wait = min(timedelta(minutes=1) * 2 ** max(0, failures - 1), MAX_BACKOFF)
    wait = wait * (1 + rng.uniform(0, JITTER))
    return now + max(wait, timedelta(seconds=retry_after))


@dataclasses.dataclass(frozen=True, slots=True)
class ApplyResult:
    outcome: str  # applied, stale, unchanged, duplicate, unknown_shipment
    shipment_id: int | None = None
    new_checkpoints: int = 0


# --------------------------------------------------------------------------------------------------
# Carrier side (system)
# --------------------------------------------------------------------------------------------------


def find_shipment(session: Session, *, slug: str, tracking_number: str, provider_id: str = "") -> Shipment | None:
    if provider_id:
        found = session.exec(select(Shipment).where(Shipment.tracking_provider_id == provider_id)).first()
        if found is not None:
            return found
    return session.exec(select(Shipment).where(Shipment.carrier == slug,
                                               Shipment.tracking_number == tracking_number)).first()


def record_webhook(session: Session, *, event_id: str, tracking: Tracking, now: datetime | None = None) -> ApplyResult:
    """Store the webhook event once, then apply its snapshot. A repeated event id changes nothing."""
    now = now or utcnow()
    shipment = find_shipment(session, slug=tracking.slug, tracking_number=tracking.tracking_number,
                             provider_id=tracking.id)
    seen = session.exec(select(CarrierWebhookEvent.id).where(CarrierWebhookEvent.event_id == event_id)).first()
    if seen is not None:
        return ApplyResult("duplicate", shipment.id if shipment else None)
    result = (apply_snapshot(session, shipment=shipment, snapshot=tracking, now=now) if shipment is not None
              else ApplyResult("unknown_shipment"))
    # Stored once, with its outcome. The unique event_id is the final word: a concurrent delivery
    # of the same event fails this insert (IntegrityError) and its whole transaction rolls back,
    # what it applied included; the caller answers "duplicate".
    session.add(CarrierWebhookEvent(event_id=event_id, provider="aftership", received_at=now,
                                    shipment_id=shipment.id if shipment else None, outcome=result.outcome))
    session.flush()
    return result


def apply_snapshot(session: Session, *, shipment: Shipment, snapshot: Tracking,
                   now: datetime | None = None) -> ApplyResult:
    now = now or utcnow()
    assert shipment.id is not None
    known = set(session.exec(select(TrackingEvent.checkpoint_key)
                             .where(TrackingEvent.shipment_id == shipment.id)).all())
    fresh = [cp for cp in snapshot.checkpoints if cp.key not in known]
    for cp in fresh:
        known.add(cp.key)
        session.add(TrackingEvent(
            shipment_id=shipment.id, checkpoint_key=cp.key, occurred_at=cp.checkpoint_time, tag=cp.tag[:24],
            subtag=cp.subtag[:32], message=cp.message[:500], location=cp.location[:200], raw=cp.raw, created_at=now,
        ))
    if shipment.tracking_provider_id is None and snapshot.id:
        shipment.tracking_provider_id = snapshot.id[:64]

    stamp = snapshot.updated_at or (snapshot.checkpoints[-1].checkpoint_time if snapshot.checkpoints else None)
    stale = stamp is not None and shipment.provider_updated_at is not None and stamp < shipment.provider_updated_at
    if stale:
        # An older snapshot arrived late: keep any checkpoint it knew, change nothing else.
        if fresh:
            _announce(session, shipment)
        session.add(shipment)
        return ApplyResult("stale", shipment.id, len(fresh))

    old_tag, old_subtag, old_end = shipment.tag, shipment.subtag, shipment.expected_delivery_end
    shipment.tag, shipment.subtag = snapshot.tag, snapshot.subtag[:32]
    shipment.subtag_message = snapshot.subtag_message[:200]
    if stamp is not None:
        shipment.provider_updated_at = stamp
    if snapshot.first_expected and shipment.original_expected_delivery is None:
        shipment.original_expected_delivery = snapshot.first_expected.end or snapshot.first_expected.start
    if snapshot.expected is not None:
        shipment.expected_delivery_start = snapshot.expected.start
        shipment.expected_delivery_end = snapshot.expected.end
        if shipment.original_expected_delivery is None:
            shipment.original_expected_delivery = snapshot.expected.end or snapshot.expected.start
    if snapshot.tag == T.DELIVERED and shipment.delivered_at is None:
        shipment.delivered_at = snapshot.delivered_at or now
    if snapshot.tag in FINAL_TAGS:
        shipment.next_poll_at = None

    changed = bool(fresh) or (old_tag, old_subtag, old_end) != (shipment.tag, shipment.subtag,
                                                                 shipment.expected_delivery_end)
    if not changed:
        session.add(shipment)
        return ApplyResult("unchanged", shipment.id)
    shipment.updated_at = now
    session.add(shipment)
    _consequences(session, shipment=shipment, old_tag=old_tag, old_end=old_end, fresh_tags={c.tag for c in fresh},
                  now=now)
    _announce(session, shipment)
    return ApplyResult("applied", shipment.id, len(fresh))


def _announce(session: Session, shipment: Shipment) -> None:
    events.emit(session, DomainEvent(topic=Topic.SHIPMENTS, customer_id=shipment.customer_id,
                                     data={"shipment_id": shipment.id}))


def _consequences(session: Session, *, shipment: Shipment, old_tag: str, old_end: datetime | None,
                  fresh_tags: set[str], now: datetime) -> None:
    """Order status, order history and the customer's notifications for what just changed."""
    order = session.get(Order, shipment.order_id)
    link = f"/shipments/{shipment.id}"
    carrier = shipment.carrier_name or shipment.carrier.upper()
    # (order event kind, title, body): worded for each recipient in their language (functions using tr);
    # the order's history keeps the body as this job words it (the portal's default language).
    notes: list[tuple[str, Callable[[], str], Callable[[], str]]] = []
    tag = shipment.tag
    number = order.number if order else ""
    entered = tag != old_tag or tag in fresh_tags
    message = shipment.subtag_message
    if entered and tag == T.OUT_FOR_DELIVERY:
        notes.append(("out_for_delivery", lambda: tr("Order {number} is out for delivery", number=number),
                      lambda: tr("{carrier} is delivering your parcel today.", carrier=carrier)))
    elif entered and tag == T.DELIVERED:
        notes.append(("delivered", lambda: tr("Order {number} was delivered", number=number),
                      lambda: message or tr("Delivered.")))
    elif entered and tag == T.AVAILABLE_FOR_PICKUP:
        notes.append(("ready_for_pickup", lambda: tr("Order {number} is ready for pickup", number=number),
                      lambda: tr("{carrier}: your parcel is waiting at the pickup point.", carrier=carrier)))
    elif entered and tag == T.ATTEMPT_FAIL:
        notes.append(("delivery_attempt_failed",
                      lambda: tr("{carrier} could not deliver order {number}", carrier=carrier, number=number),
                      lambda: message or tr("The carrier will try again.")))
    elif entered and tag == T.EXCEPTION:
        kind = "returned_to_sender" if shipment.subtag in RETURNED_SUBTAGS else "delivery_exception"
        notes.append((kind, lambda: tr("A problem with the delivery of order {number}", number=number),
                      lambda: message or tr("The carrier reported a problem.")))
    end = shipment.expected_delivery_end
    if (tag not in FINAL_TAGS and old_end is not None and end is not None and end > old_end
            and end.date() != old_end.date()):
        when = fmt.weekday_day(end)
        notes.append(("delivery_delayed", lambda: tr("Order {number} is delayed", number=number),
                      lambda: tr("{carrier} now expects to deliver on {date}.", carrier=carrier, date=when)))

    if order is not None:
        new_status = _order_status_for(order.status, tag)
        if new_status and new_status != order.status:
            order.status = new_status
            order.updated_at = now
            session.add(order)
            events.emit(session, DomainEvent(topic=Topic.ORDERS, customer_id=order.customer_id,
                                             data={"order_id": order.id}))
        for kind, _title, body in notes:
            session.add(OrderEvent(order_id=order.id or 0, kind=kind, message=body()[:500], actor_kind="system",
                                   data={"shipment_id": shipment.id, "subtag": shipment.subtag}, created_at=now))
    for kind, title, body in notes:
        # A delivery that went wrong or slipped offers help with it, pre-filled, right in the notification.
        help_link = f"/support/new?about=shipment:{shipment.id}" if kind in _NEEDS_HELP else ""
        notify_customer(session, customer_id=shipment.customer_id, kind=NotificationKind.SHIPPING, title=title,
                        body=body, link=link, help_link=help_link)


_NEEDS_HELP = ("delivery_attempt_failed", "delivery_exception", "returned_to_sender", "delivery_delayed")


_ORDER_PROGRESS: list[str] = [OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PACKED, OrderStatus.SHIPPED,
                   OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED]


def _order_status_for(current: str, tag: str) -> str | None:
    """Orders only move forward, and never out of returned or cancelled."""
    target = {T.OUT_FOR_DELIVERY: OrderStatus.OUT_FOR_DELIVERY, T.DELIVERED: OrderStatus.DELIVERED,
              T.IN_TRANSIT: OrderStatus.SHIPPED}.get(tag)  # type: ignore[call-overload]
    if target is None or current not in _ORDER_PROGRESS:
        return None
    return target if _ORDER_PROGRESS.index(target) > _ORDER_PROGRESS.index(current) else None


# -- the sweeper's bookkeeping ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PollTarget:
    shipment_id: int
    carrier: str
    tracking_number: str
    provider_id: str | None
    order_number: str


def lease_due(session: Session, *, now: datetime | None = None, limit: int = 200) -> list[PollTarget]:
    """Shipments whose next poll is due, leased for a few minutes so an overlapping run skips them."""
    now = now or utcnow()
    rows = session.exec(
        select(Shipment, Order.number).join(Order, col(Order.id) == Shipment.order_id)
        .where(col(Shipment.next_poll_at).is_not(None), col(Shipment.next_poll_at) <= now)
        .order_by(col(Shipment.next_poll_at)).limit(max(1, limit))
    ).all()
    out = []
    for shipment, number in rows:
        shipment.next_poll_at = now + LEASE
        session.add(shipment)
        out.append(PollTarget(shipment.id or 0, shipment.carrier, shipment.tracking_number,
                              shipment.tracking_provider_id, number))
    return out


def record_poll(session: Session, *, shipment_id: int, snapshot: Tracking, now: datetime | None = None) -> ApplyResult:
    now = now or utcnow()
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return ApplyResult("unknown_shipment")
    result = apply_snapshot(session, shipment=shipment, snapshot=snapshot, now=now)
    shipment.last_polled_at = now
    shipment.poll_failures = 0
    shipment.next_poll_at = next_poll_after(shipment.tag, now)
    session.add(shipment)
    return result


def record_poll_failure(session: Session, *, shipment_id: int, retry_after: float = 0.0,
                        now: datetime | None = None) -> datetime | None:
    """The carrier timed out or refused: keep everything we know, ask again later (backoff)."""
    now = now or utcnow()
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return None
    shipment.poll_failures += 1
    shipment.next_poll_at = backoff_after(shipment.poll_failures, now, retry_after=retry_after)
    session.add(shipment)
    return shipment.next_poll_at


# --------------------------------------------------------------------------------------------------
# Customer side
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ShipmentDetail:
    shipment: ShipmentPublic
    order_number: str
    checkpoints: list[TrackingEventPublic]  # newest first


_CHECKPOINT_COLUMNS = tuple(getattr(TrackingEvent, f.name) for f in dataclasses.fields(TrackingEventPublic))


def get_shipment(session: Session, *, principal: Principal, shipment_id: int) -> ShipmentDetail:
    """The open shipment page's content, read again on every carrier update while it is open: one
    query for the shipment and its order's number, one for the checkpoints' shown columns only (not
    the carrier's raw JSON, nor an ORM object per checkpoint)."""
    customer_id = require_customer(principal)
    found = session.exec(select(Shipment, Order.number).outerjoin(Order, col(Order.id) == Shipment.order_id)
                         .where(Shipment.id == shipment_id)).first()
    # Someone else's shipment is "not found", exactly like a missing one.
    if found is None or found[0].customer_id != customer_id:
        raise NotFound("shipment")
    shipment, number = found
    rows = session.execute(select(*_CHECKPOINT_COLUMNS).where(TrackingEvent.shipment_id == shipment_id)
                           .order_by(col(TrackingEvent.occurred_at).desc(), col(TrackingEvent.id).desc())
                           .limit(500)).all()
    return ShipmentDetail(
        shipment=ShipmentPublic.model_validate(shipment, from_attributes=True),
        order_number=number or "",
        checkpoints=[TrackingEventPublic(*r) for r in rows],
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ShipmentSummary:
    id: int
    order_id: int
    order_number: str
    carrier_name: str
    tracking_number: str
    tag: str
    subtag: str
    subtag_message: str
    expected_delivery_end: datetime | None
    delivered_at: datetime | None
    checkpoints: int


def list_shipments(session: Session, *, principal: Principal, limit: int = 50) -> list[ShipmentSummary]:
    """The customer's shipments, those still on the way first. Two queries, whatever the count."""
    customer_id = require_customer(principal)
    limit = max(1, min(limit, 200))
    rows = session.exec(
        select(Shipment, Order.number).join(Order, col(Order.id) == Shipment.order_id)
        .where(Shipment.customer_id == customer_id)
        .order_by(col(Shipment.delivered_at).is_not(None), col(Shipment.updated_at).desc()).limit(limit)
    ).all()
    ids = [s.id for s, _ in rows]
    counts: dict[int, int] = {}
    if ids:
        counts = {sid: int(n) for sid, n in session.exec(
            select(TrackingEvent.shipment_id, func.count()).where(col(TrackingEvent.shipment_id).in_(ids))
            .group_by(col(TrackingEvent.shipment_id))).all()}
    return [ShipmentSummary(id=s.id or 0, order_id=s.order_id, order_number=number,
                            carrier_name=s.carrier_name or s.carrier, tracking_number=s.tracking_number, tag=s.tag,
                            subtag=s.subtag, subtag_message=s.subtag_message,
                            expected_delivery_end=s.expected_delivery_end,
                            delivered_at=s.delivered_at, checkpoints=counts.get(s.id or 0, 0))
            for s, number in rows]
