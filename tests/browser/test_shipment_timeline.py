"""The shipment timeline in the browser: the simulator advances, posts a signed webhook to the
running portal over loopback, and the open page shows the new checkpoint without a reload.
Forged websocket events get nothing of someone else's shipment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from portal.db import session_scope
from portal.models import Shipment, User
from portal.seed.demo import DEMO_PASSWORD
from portal.simulator import embedded
from portal.state.shipments import ShipmentState
from tests.browser.test_forged_events import cookie_for, send_one
from tests.browser.test_login_flow import sign_in
from tests.factories import make_customer
from tests.factories_tracking import make_shipment, make_simulator
from tests.support.aio import run_async
from tests.support.reflex_client import deltas_text, handler_name

pytestmark = pytest.mark.browser


def shipment_of(db: Session, email: str, tag: str) -> Shipment:
    user = db.exec(select(User).where(User.email == email)).one()
    return db.exec(select(Shipment).where(Shipment.customer_id == user.customer_id, Shipment.tag == tag)
                   .order_by(col(Shipment.id))).first()  # type: ignore[return-value]



def carrier_scans(backend_url: str, shipment: Any) -> tuple[Any, Any]:
    """The carrier's simulator scans the parcel once and posts its signed webhook to the portal;
    the simulator and its parcel, to scan again."""
    sim = make_simulator(webhook_url=f"{backend_url}/api/carrier/webhooks/aftership")
    with session_scope() as s:
        embedded.sync_from_db(s, sim, step=timedelta(0))
    tracked = sim.find(shipment.carrier, shipment.tracking_number)
    assert tracked is not None
    delivery = run_async(sim.step(tracked.id))
    assert delivery is not None and delivery.delivered and delivery.status == 200
    return sim, tracked

def test_a_new_checkpoint_appears_on_the_open_shipment_page(page: Any, demo: Any, db: Session,
                                                            backend_url: str) -> None:
    # Given Alice has the page of her delayed parcel open
    shipment = shipment_of(db, "alice@example.com", "InTransit")
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto(f"/shipments/{shipment.id}")
    page.get_by_test_id("checkpoint").first.wait_for()
    before = page.get_by_test_id("checkpoint").count()
    assert page.get_by_test_id("slipped").is_visible()  # the carrier moved its date: the page says so
    assert page.locator("[data-testid=milestone][data-state=current]").inner_text().startswith("In transit")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # When the carrier's simulator scans the parcel and posts its signed webhook to the portal
    sim, tracked = carrier_scans(backend_url, shipment)

    # Then the new checkpoint is on top of her open page, without a reload
    first = page.get_by_test_id("checkpoint").first
    first.get_by_text("Departed sorting centre").wait_for(timeout=10_000)
    assert page.get_by_test_id("checkpoint").count() == before + 1
    assert navigations == []

    # And when it goes out for delivery, the milestones follow
    run_async(sim.step(tracked.id))
    run_async(sim.step(tracked.id))
    page.locator("[data-testid=milestone][data-state=current]").get_by_text("Out for delivery").wait_for(
        timeout=10_000)
    assert navigations == []


def test_customer_b_cannot_open_customer_a_shipment_by_forging_its_id(db: Session, harness: Any,
                                                                      backend_url: str) -> None:
    _, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_ship = make_shipment(db, ca)
    b_ship = make_shipment(db, cb)
    cookie = cookie_for(db, ub)
    name = handler_name(ShipmentState.load)

    forged = deltas_text(run_async(send_one(backend_url, cookie, name, f"/shipments/{a_ship.id}")))
    assert a_ship.tracking_number not in forged and "Seeded scan" not in forged
    assert "could not find" in forged
    # Nonsense ids are refused without a lookup
    assert "not a shipment we know" in deltas_text(run_async(send_one(backend_url, cookie, name, "/shipments/x1")))
    # The same call for Bob's own shipment returns it: a leak would be visible
    own = deltas_text(run_async(send_one(backend_url, cookie, name, f"/shipments/{b_ship.id}")))
    assert b_ship.tracking_number in own and "Seeded scan" in own


def test_a_stranger_is_sent_to_sign_in(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    a_ship = make_shipment(db, ca)
    updates = run_async(send_one(backend_url, None, handler_name(ShipmentState.load), f"/shipments/{a_ship.id}"))
    assert a_ship.tracking_number not in deltas_text(updates)
