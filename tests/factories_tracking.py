"""Factories for tracking tests: shipments with checkpoints, a simulator wired to the portal."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session

from portal.db import utcnow
from portal.integrations.aftership import AfterShipClient
from portal.models import Customer, Order, OrderStatus, Shipment, TrackingEvent, TrackingTag
from portal.settings import get_settings
from portal.simulator import Simulator, VirtualClock
from tests.factories import make_order

_seq = itertools.count(1)
SIM_BASE = "http://carrier.test/tracking/2026-07"


def make_shipment(db: Session, customer: Customer, *, order: Order | None = None, carrier: str = "dhl",
                  tag: TrackingTag = TrackingTag.IN_TRANSIT, subtag: str = "InTransit_003",
                  checkpoints: int = 2, next_poll_at: datetime | None = None, **fields: Any) -> Shipment:
    n = next(_seq)
    order = order or make_order(db, customer, status=OrderStatus.SHIPPED)
    now = utcnow()
    shipment = Shipment(order_id=order.id or 0, customer_id=customer.id or 0, carrier=carrier,
                        carrier_name=carrier.upper(), tracking_number=f"TRK{n:09d}", tag=tag, subtag=subtag,
                        subtag_message="Arrival scan", next_poll_at=next_poll_at, **fields)
    db.add(shipment)
    db.flush()
    for i in range(checkpoints):
        at = now - timedelta(hours=10 - i)
        db.add(TrackingEvent(shipment_id=shipment.id or 0, checkpoint_key=f"seed-{n}-{i}", occurred_at=at,
                             tag="InfoReceived" if i == 0 else "InTransit",
                             subtag="InfoReceived_001" if i == 0 else "InTransit_003",
                             message=f"Seeded scan {i}", location="Venlo, NL"))
    db.commit()
    db.refresh(shipment)
    return shipment


def make_simulator(*, portal: httpx.AsyncBaseTransport | None = None, webhook_url: str = "",
                   **kw: Any) -> Simulator:
    s = get_settings()
    if portal is not None and not webhook_url:
        webhook_url = "http://portal.test/api/carrier/webhooks/aftership"
    return Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret, webhook_url=webhook_url,
                     webhook_transport=portal, clock=kw.pop("clock", VirtualClock()),
                     retry_delays=kw.pop("retry_delays", (0.0, 0.0, 0.0)), **kw)


def client_for(sim: Simulator, **kw: Any) -> AfterShipClient:
    return AfterShipClient(base_url=SIM_BASE, api_key=kw.pop("api_key", sim.api_key),
                           transport=httpx.ASGITransport(app=sim.asgi()), **kw)


def portal_transport() -> httpx.AsyncBaseTransport:
    from portal.api.app import build_api

    return httpx.ASGITransport(app=build_api())
