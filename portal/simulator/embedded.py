"""The simulator inside the portal process, for `make run` and the demo (never in production).

- Its API is mounted at /_simulator/aftership/tracking/2026-07/... (for people and scripts) and
  reached by the tracking sweeper through an in-process transport (no network).
- Every few seconds the `carrier-simulator` job tops up the parcels in motion (warehouse.py),
  registers the open shipments it does not know yet (continuing from the checkpoints the portal
  already has), and reveals the next checkpoint of a shipment whose turn it is, about one every
  CARRIER_SIMULATOR_STEP_SECONDS per shipment. Each checkpoint reaches the portal as a signed
  webhook through the real webhook route.
- The state it continues from is read from the database on every tick, so whichever worker wins
  the tick carries on where the last one stopped.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import Session, col, select
from starlette.routing import Mount

from portal.db import session_scope, utcnow
from portal.integrations.aftership import API_VERSION
from portal.models import Order, Shipment, TrackingEvent
from portal.settings import get_settings
from portal.simulator.core import SCENARIOS, Route_, Simulator, Step

log = logging.getLogger(__name__)
MOUNT = "/_simulator/aftership"
BASE_URL = f"http://carrier-simulator.internal/tracking/{API_VERSION}"
_WEBHOOK_URL = "http://portal.internal/api/carrier/webhooks/aftership"
TICK_SECONDS = 5

_sim: Simulator | None = None
_DONE_TAGS = ("Delivered", "Expired")


class _Portal:
    """The portal's own API as the simulator's webhook target, called in-process."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            from portal.api.app import build_api

            self.app = build_api()
        await self.app(scope, receive, send)


def simulator() -> Simulator:
    global _sim
    if _sim is None:
        s = get_settings()
        _sim = Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret,
                         webhook_url=_WEBHOOK_URL, webhook_transport=httpx.ASGITransport(app=_Portal()))
    return _sim


def reset() -> None:
    global _sim
    _sim = None


class _SimulatorApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await simulator().asgi()(scope, receive, send)


def routes() -> list[Mount]:
    return [Mount(MOUNT, app=_SimulatorApp())] if get_settings().simulator_in_process else []


def transport() -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=_SimulatorApp())


# The journeys a new demo parcel takes, in turn: most arrive, some after a failed attempt or at a
# pickup point, so those states are there to see too.
_JOURNEYS = ("standard", "failed_attempt", "standard", "pickup")


def _continuation(tag: str, subtag: str, turn: int = 0) -> list[Step]:
    std = SCENARIOS["standard"]  # info, picked up, hub in, hub out, depot, out for delivery, delivered
    if tag in ("Pending", "InfoReceived"):
        return SCENARIOS[_JOURNEYS[turn % len(_JOURNEYS)]][1:]
    if tag == "InTransit":
        start = {"InTransit_002": 2, "InTransit_003": 3, "InTransit_001": 3, "InTransit_007": 4,
                 "InTransit_004": 5}.get(subtag, 3)
        return std[start:]
    if tag == "AttemptFail":
        return SCENARIOS["failed_attempt"][-2:]
    if tag == "AvailableForPickup":
        return SCENARIOS["pickup"][-1:]
    if tag == "OutForDelivery":
        return std[-1:]
    return []


def sync_from_db(db: Session, sim: Simulator, *, step: timedelta) -> int:
    """Register the open shipments the simulator does not know, or knows less of than the portal."""
    rows = db.exec(select(Shipment, Order).join(Order, col(Order.id) == Shipment.order_id)
                   .where(col(Shipment.tag).not_in(_DONE_TAGS)).order_by(col(Shipment.id))).all()
    added = 0
    for index, (shipment, order) in enumerate(rows):
        events = db.exec(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
                         .order_by(col(TrackingEvent.occurred_at), col(TrackingEvent.id))).all()
        known = sim.find(shipment.carrier, shipment.tracking_number)
        if known is not None and len(known.checkpoints) >= len(events):
            continue
        if known is not None:
            sim.forget(known.id)
        steps = _continuation(shipment.tag, shipment.subtag, shipment.id or 0)
        if not steps or not events:
            continue
        addr = order.shipping_address or {}
        city = ", ".join(p for p in (str(addr.get("city") or ""), str(addr.get("country") or "")) if p) or "Destination"
        history = [{
            "slug": shipment.carrier, "checkpoint_time": e.occurred_at.isoformat().replace("+00:00", "Z"),
            "location": e.location, "message": e.message, "tag": e.tag, "subtag": e.subtag,
            "hash": e.checkpoint_key,
        } for e in events]
        window = None
        if shipment.expected_delivery_start and shipment.expected_delivery_end:
            window = (shipment.expected_delivery_start, shipment.expected_delivery_end)
        first = None
        if shipment.original_expected_delivery:
            first = (shipment.original_expected_delivery - timedelta(hours=8), shipment.original_expected_delivery)
        sim.add_tracking(
            slug=shipment.carrier, tracking_number=shipment.tracking_number, scenario=steps, title=order.number,
            order_id=str(order.id), history=history, tag=shipment.tag, subtag=shipment.subtag,
            route=Route_(origin=events[0].location, hub=events[-1].location, depot=f"Delivery depot, {city}",
                         city=city),
            first_edd=first or window, latest_edd=window, updated_at=shipment.provider_updated_at,
            tracking_id=shipment.tracking_provider_id or "", cadence=step,
            # Staggered, so something moves every few seconds rather than all at once.
            start_in=step * (index / max(1, len(rows))),
        )
        added += 1
    return added


def _tick(sim: Simulator, step: timedelta) -> tuple[int, int]:
    from portal.simulator import warehouse

    with session_scope() as db:
        # A few parcels stay on their way for as long as the demo runs (new ones as others arrive).
        started = warehouse.keep_moving(db)
    with session_scope() as db:
        return started, sync_from_db(db, sim, step=step)


async def drive() -> str:
    """One tick of the demo: keep parcels moving, catch up with the database, release what is due."""
    from portal.live.runtime import offload

    sim = simulator()
    step = timedelta(seconds=get_settings().carrier_simulator_step_seconds)
    started, added = await offload(_tick, sim, step)
    deliveries = await sim.advance_to(utcnow())
    return f"started {started}, registered {added}, sent {len(deliveries)} webhooks"


def register_job() -> None:
    # Only the demo (development) moves shipments on its own; tests move the clock themselves.
    s = get_settings()
    if not s.simulator_in_process or s.portal_env != "development":
        return
    from portal.jobs.scheduler import job

    job("carrier-simulator", seconds=TICK_SECONDS)(drive)
