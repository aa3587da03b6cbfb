"""The carrier webhook route: the simulator posts signed webhooks to the portal's API (in-process)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from portal.integrations import aftership
from portal.models import CarrierWebhookEvent, Notification, OrderEvent, Shipment, TrackingEvent
from portal.settings import get_settings
from portal.simulator import SCENARIOS
from tests.factories import make_customer
from tests.factories_tracking import make_shipment, make_simulator, portal_transport
from tests.support.aio import run_async
from tests.support.production import PRODUCTION_ENV

URL = "http://portal.test/api/carrier/webhooks/aftership"


def counts(db: Session) -> tuple[int, int, int, int]:
    db.expire_all()
    return (db.exec(select(func.count()).select_from(TrackingEvent)).one(),
            db.exec(select(func.count()).select_from(CarrierWebhookEvent)).one(),
            db.exec(select(func.count()).select_from(OrderEvent)).one(),
            db.exec(select(func.count()).select_from(Notification)).one())


def post(raw: bytes, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=portal_transport()) as http:
            return await http.post(URL, content=raw, headers=headers)

    return run_async(go())


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {aftership.SIGNATURE_HEADER: aftership.sign(raw, get_settings().aftership_webhook_secret)}


def test_a_signed_webhook_records_the_checkpoint_and_tells_the_customer(db: Session) -> None:
    # Given a shipment in transit and the carrier's simulator, which knows it
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer)
    sim = make_simulator(portal=portal_transport())
    t = sim.add_tracking(slug="dhl", tracking_number=shipment.tracking_number,
                         scenario=SCENARIOS["standard"][:-1])
    before = counts(db)
    # When the parcel goes out for delivery and the carrier posts its webhook
    deliveries = run_async(sim.advance(48 * 3600))
    # Then every webhook was accepted at the first attempt
    assert deliveries and all(d.delivered and d.attempts == 1 and d.status == 200 for d in deliveries)
    db.refresh(shipment)
    assert shipment.tag == "OutForDelivery" and shipment.tracking_provider_id == t.id
    assert shipment.provider_updated_at is not None
    tracked, webhooks, order_events, notes = counts(db)
    assert order_events > before[2]
    assert tracked == before[0] + len(t.checkpoints) and webhooks == len(deliveries)
    # And the order moved on, with its history and the customer's notification
    kinds = db.exec(select(OrderEvent.kind).where(OrderEvent.order_id == shipment.order_id)).all()
    assert "out_for_delivery" in kinds
    titles = db.exec(select(Notification.title)).all()
    assert any("out for delivery" in title for title in titles) and notes > before[3]


def test_unsigned_or_wrongly_signed_webhooks_get_401_and_change_nothing(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer)
    sim = make_simulator()
    t = sim.add_tracking(slug="dhl", tracking_number=shipment.tracking_number)
    run_async(sim.advance(48 * 3600))
    raw, headers = signed({"event_id": "evt-1", "event": "tracking_update", "msg": sim.snapshot(t), "ts": 1})
    before = counts(db)
    for bad in ({}, {aftership.SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"},
                {aftership.SIGNATURE_HEADER: aftership.sign(raw, "someone else's secret")}):
        assert post(raw, bad).status_code == 401
    # A signature for other bytes does not cover these bytes
    assert post(raw + b" ", headers).status_code == 401
    assert counts(db) == before
    db.refresh(shipment)
    assert shipment.tag == "InTransit"


def test_malformed_json_gets_400(db: Session) -> None:
    for raw in (b"{not json", b"[1, 2]", b'{"event_id": "e", "msg": {"tag": "Nope"}}'):
        body, headers = raw, {aftership.SIGNATURE_HEADER: aftership.sign(raw, get_settings().aftership_webhook_secret)}
        assert post(body, headers).status_code == 400
    assert counts(db) == (0, 0, 0, 0)


def test_a_duplicate_or_retried_event_changes_nothing(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer)
    sim = make_simulator()
    t = sim.add_tracking(slug="dhl", tracking_number=shipment.tracking_number)
    run_async(sim.advance(30 * 86400))  # delivered
    raw, headers = signed({"event_id": "evt-dup", "event": "tracking_update", "msg": sim.snapshot(t), "ts": 1})
    first = post(raw, headers)
    after_first = counts(db)
    second = post(raw, headers)
    assert first.json()["outcome"] == "applied" and second.json()["outcome"] == "duplicate"
    assert second.status_code == 200 and counts(db) == after_first
    # The same snapshot under a new event id is stored as an event but changes nothing else
    raw2, headers2 = signed({"event_id": "evt-new", "event": "tracking_update", "msg": sim.snapshot(t), "ts": 2})
    assert post(raw2, headers2).json()["outcome"] == "unchanged"
    tracked, webhooks, order_events, notes = counts(db)
    assert (tracked, order_events, notes) == (after_first[0], after_first[2], after_first[3])
    assert webhooks == after_first[1] + 1


def test_an_older_snapshot_never_overwrites_a_newer_one(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer)
    sim = make_simulator()
    t = sim.add_tracking(slug="dhl", tracking_number=shipment.tracking_number, scenario="failed_attempt")
    run_async(sim.advance(27 * 3600))  # out for delivery
    older = sim.snapshot(t)
    run_async(sim.advance(4 * 3600))  # the attempt failed
    newer = sim.snapshot(t)
    assert older["tag"] == "OutForDelivery" and newer["tag"] == "AttemptFail"
    # When the newer one arrives first and the older one after it
    for event_id, msg in (("evt-new", newer), ("evt-old", older)):
        raw, headers = signed({"event_id": event_id, "event": "tracking_update", "msg": msg, "ts": 1})
        assert post(raw, headers).status_code == 200
    # Then the shipment keeps the newer state, and the late one is recorded as stale
    db.expire_all()
    stored = db.get(Shipment, shipment.id)
    assert stored is not None and stored.tag == "AttemptFail"
    outcome = db.exec(select(CarrierWebhookEvent.outcome).where(CarrierWebhookEvent.event_id == "evt-old")).one()
    assert outcome == "stale"


def test_the_simulator_retries_a_refused_delivery_with_the_same_event_id(db: Session) -> None:
    _, customer = make_customer(db)
    shipment = make_shipment(db, customer)
    real = portal_transport()
    calls: list[str] = []

    class FlakyPortal(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            calls.append(body["event_id"])
            if len(calls) == 1:
                return httpx.Response(503)
            return await real.handle_async_request(request)

    sim = make_simulator(portal=FlakyPortal())
    sim.add_tracking(slug="dhl", tracking_number=shipment.tracking_number)
    deliveries = run_async(sim.advance(0))
    assert len(deliveries) == 1 and deliveries[0].attempts == 2 and deliveries[0].delivered
    assert calls[0] == calls[1]
    assert counts(db)[1] == 1


def test_production_refuses_the_development_secret_and_mounts_no_simulator(
        db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.api.app import build_api
    from portal.settings import reset_settings_cache

    dev_secret = get_settings().aftership_webhook_secret
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    try:
        assert not get_settings().simulator_in_process
        assert all(not str(getattr(r, "path", "")).startswith("/_simulator") for r in build_api().routes)
        raw = json.dumps({"event_id": "e", "msg": {}}).encode()
        assert post(raw, {aftership.SIGNATURE_HEADER: aftership.sign(raw, dev_secret)}).status_code == 401
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert get_settings().simulator_in_process
