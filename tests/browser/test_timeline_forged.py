"""Forged websocket events against the timeline and "Get help with this": whatever a client sends,
it reads only its own customer's records (each check has its positive control: the owner's call)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from portal.db import utcnow
from portal.state.chat import ChatState
from portal.state.support import NewTicketState
from portal.state.timeline import TimelineState
from tests.browser.test_forged_events import cookie_for, send_one
from tests.factories import make_customer
from tests.factories_tracking import make_shipment
from tests.support.aio import run_async
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


async def _calls(backend_url: str, cookie: str | None, path: str,
                 events: list[tuple[str, dict[str, Any] | None]]) -> str:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out = [await c.send(name, payload, path=path) for name, payload in events]
    return deltas_text([u for updates in out for u in updates])


def test_timeline_events_read_only_the_callers_own_records(db: Session, harness: Any, backend_url: str) -> None:
    # Given Alice's and Bob's parcels
    ua, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_ship = make_shipment(db, ca)
    b_ship = make_shipment(db, cb)
    load, query, kind = (handler_name(h) for h in (TimelineState.load, TimelineState.update_query,
                                                   TimelineState.update_kind))
    # When Bob searches his timeline for Alice's tracking number, or asks for a made-up kind
    seen = run_async(_calls(backend_url, cookie_for(db, ub), "/timeline", [
        (load, None), (query, {"value": a_ship.tracking_number}), (kind, {"value": "everyone"})]))
    # Then no entry of Alice's comes back (only his search words), and the kind is refused by name
    assert f"Parcel DHL {a_ship.tracking_number}" not in seen and "Choose one of the kinds" in seen
    # ... while his own search finds his parcel (and Alice's timeline has hers)
    assert f"Parcel DHL {b_ship.tracking_number}" in run_async(_calls(backend_url, cookie_for(db, ub), "/timeline", [
        (load, None), (query, {"value": b_ship.tracking_number})]))
    assert f"Parcel DHL {a_ship.tracking_number}" in run_async(_calls(backend_url, cookie_for(db, ua), "/timeline",
                                                                      [(load, None)]))
    # A stranger is sent to sign in and reads nothing
    updates = run_async(send_one(backend_url, None, load, "/timeline"))
    assert any(r.startswith("/login") for r in redirects(updates))
    assert a_ship.tracking_number not in deltas_text(updates)


def test_a_forged_about_fills_in_nothing_in_the_form_or_the_chat(db: Session, harness: Any, backend_url: str) -> None:
    ua, ca = make_customer(db, name="Alice")
    ub, _ = make_customer(db, name="Bob")
    late = utcnow() - timedelta(days=2)
    a_ship = make_shipment(db, ca, original_expected_delivery=late, expected_delivery_end=late)
    form, chat = handler_name(NewTicketState.load), handler_name(ChatState.toggle)
    for cookie, own in ((cookie_for(db, ub), False), (cookie_for(db, ua), True)):
        # Bob's forged reference to Alice's parcel, then Alice's own (the positive control)
        said = deltas_text(run_async(send_one(backend_url, cookie, form, f"/support/new?about=shipment:{a_ship.id}")))
        assert (a_ship.tracking_number in said) is own
        assert ("is 2 days late" in said) is own
        assert ("could not find what this ticket was about" in said) is not own
        chatted = run_async(_calls(backend_url, cookie, f"/shipments/{a_ship.id}", [(chat, None)]))
        assert (a_ship.tracking_number in chatted) is own
