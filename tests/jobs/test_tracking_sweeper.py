"""The tracking sweeper against the simulator: cadence, backoff, rate limits, timeouts, concurrency,
and one run per tick however many workers fire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, func, select

from portal.db import utcnow
from portal.integrations.aftership import AfterShipClient
from portal.jobs import tracking as sweeper
from portal.jobs.scheduler import JOBS, JobSpec, run_tick
from portal.models import Shipment, TrackingEvent
from portal.simulator import SCENARIOS, embedded
from tests.factories import make_customer
from tests.factories_tracking import SIM_BASE, client_for, make_shipment, make_simulator
from tests.support.aio import run_async


@pytest.fixture
def fresh_embedded() -> Iterator[None]:
    embedded.reset()
    yield
    embedded.reset()


# The sweeps here run "two days from now": shipments due then are not due for any scheduler
# that happens to tick in the background (the browser tests' app runs one), so only the sweep
# under test ever sees them.
LATER = utcnow() + timedelta(days=2)


def due_shipments(db: Session, n: int, **kw: object) -> list[Shipment]:
    _, customer = make_customer(db)
    return [make_shipment(db, customer, next_poll_at=LATER - timedelta(minutes=1), **kw)  # type: ignore[arg-type]
            for _ in range(n)]


def history(db: Session, shipment: Shipment) -> int:
    return db.exec(select(func.count()).select_from(TrackingEvent)
                   .where(TrackingEvent.shipment_id == shipment.id)).one()


def test_due_shipments_are_refreshed_and_rescheduled_by_status(db: Session) -> None:
    # Given three due shipments the carrier knows: one out for delivery, one in transit, one delivered
    ofd, transit, done = due_shipments(db, 3)
    not_due = make_shipment(db, make_customer(db)[1], next_poll_at=LATER + timedelta(hours=1))
    sim = make_simulator()
    for s, steps in ((ofd, 6), (transit, 3), (done, 7)):
        sim.add_tracking(slug="dhl", tracking_number=s.tracking_number, scenario=SCENARIOS["standard"][:steps])
    run_async(sim.advance(40 * 3600))

    async def go() -> sweeper.SweepResult:
        async with client_for(sim) as c:
            return await sweeper.sweep(c, now=LATER)

    result = run_async(go())
    # Then each due one was asked about once and rescheduled by its new status
    assert (result.due, result.refreshed, result.failed) == (3, 3, 0)
    now = utcnow()
    for s in (ofd, transit, done, not_due):
        db.refresh(s)
    assert ofd.tag == "OutForDelivery" and ofd.next_poll_at is not None
    assert timedelta(minutes=12) < ofd.next_poll_at - now < timedelta(minutes=17)
    assert transit.next_poll_at is not None and timedelta(hours=1, minutes=45) < transit.next_poll_at - now
    assert done.tag == "Delivered" and done.next_poll_at is None and done.last_polled_at is not None
    assert not_due.last_polled_at is None
    # Unknown ids were found by tracking number and remembered, so the next poll goes by id
    assert ofd.tracking_provider_id == sim.find("dhl", ofd.tracking_number).id  # type: ignore[union-attr]


def test_a_shipment_the_carrier_does_not_know_yet_is_created_there(db: Session) -> None:
    (s,) = due_shipments(db, 1)
    sim = make_simulator()

    async def go() -> sweeper.SweepResult:
        async with client_for(sim) as c:
            return await sweeper.sweep(c, now=LATER)

    assert run_async(go()).refreshed == 1
    assert sim.find("dhl", s.tracking_number) is not None


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_carrier_trouble_backs_off_and_keeps_the_history(db: Session, fault: str) -> None:
    (s,) = due_shipments(db, 1, tracking_provider_id="known-id")
    kept = history(db, s)
    sim = make_simulator()
    if fault == "500":
        sim.fail_next(5, status=500)
        client = client_for(sim)
    elif fault == "429":
        sim.rate_limits["GET /trackings/{id}"] = 0
        client = client_for(sim, max_wait=0)
    else:
        def stall(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("no answer", request=request)

        client = AfterShipClient(base_url=SIM_BASE, api_key="k", transport=httpx.MockTransport(stall))

    async def go() -> sweeper.SweepResult:
        async with client:
            return await sweeper.sweep(client, now=LATER)

    before = utcnow()
    result = run_async(go())
    db.refresh(s)
    assert (result.refreshed, result.failed, result.rate_limited) == (0, 1, int(fault == "429"))
    assert s.poll_failures == 1 and s.next_poll_at is not None and s.next_poll_at - before >= timedelta(minutes=1)
    assert s.tag == "InTransit" and history(db, s) == kept
    # A second failure waits longer
    first_wait = s.next_poll_at - before
    s.next_poll_at = LATER - timedelta(seconds=1)
    db.add(s)
    db.commit()
    if fault == "500":
        sim.fail_next(5, status=500)
    client = client_for(sim, max_wait=0) if fault != "timeout" else client
    if fault == "timeout":
        client = AfterShipClient(base_url=SIM_BASE, api_key="k", transport=httpx.MockTransport(stall))
    run_async(go())
    db.refresh(s)
    assert s.poll_failures == 2 and s.next_poll_at is not None and s.next_poll_at - utcnow() > first_wait


def test_polls_run_with_bounded_concurrency(db: Session) -> None:
    shipments = due_shipments(db, 10)
    sim = make_simulator()
    for s in shipments:
        sim.add_tracking(slug="dhl", tracking_number=s.tracking_number)
    inner = httpx.ASGITransport(app=sim.asgi())
    state = {"now": 0, "max": 0}

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            try:
                await asyncio.sleep(0.02)
                return await inner.handle_async_request(request)
            finally:
                state["now"] -= 1

    async def go() -> sweeper.SweepResult:
        async with AfterShipClient(base_url=SIM_BASE, api_key=sim.api_key, transport=Counting()) as c:
            return await sweeper.sweep(c, now=LATER, concurrency=3)

    result = run_async(go())
    assert result.refreshed == 10 and 1 < state["max"] <= 3


def test_many_workers_firing_for_one_tick_poll_each_shipment_once(db: Session, fresh_embedded: None) -> None:
    # Given due shipments the in-process simulator knows, and eight workers whose schedulers fire together
    shipments = due_shipments(db, 4)
    sim = embedded.simulator()
    for s in shipments:
        sim.add_tracking(slug="dhl", tracking_number=s.tracking_number)
    registered = JOBS["tracking-sweep"]
    assert registered.fn is sweeper.tracking_sweep and registered.seconds == 60
    spec = JobSpec(name=registered.name, seconds=registered.seconds, fn=lambda: sweeper.tracking_sweep(now=LATER))

    async def eight_workers() -> list[bool]:
        return await asyncio.gather(*(run_tick(spec, now=7_000_010.0) for _ in range(8)))

    ran = run_async(eight_workers())
    # Then one of them ran the sweep, and each shipment was asked about exactly once (list, then by id next time)
    assert ran.count(True) == 1
    assert sim.requests == 4
    for s in shipments:
        db.refresh(s)
        assert s.last_polled_at is not None and s.tracking_provider_id is not None
