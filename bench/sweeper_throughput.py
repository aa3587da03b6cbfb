"""Sweeper throughput against the carrier simulator: shipments refreshed per minute.

    .venv/bin/python bench/sweeper_throughput.py [--shipments 600]

Runs on a throw-away SQLite database (never DATABASE_URL). The simulator is reached in-process
(httpx ASGI transport), so the figures are the portal's own cost (HTTP handling, parsing, one
transaction per shipment) plus the carrier's rate limit, not network latency. Each case is run
side by side in one process: AfterShip's published per-endpoint limit (GET /trackings/{id} at
5 req/s)
and the limit lifted, at two concurrency levels.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.pop("DATABASE_URL", None)
os.environ["PORTAL_ENV"] = "test"
os.environ["PORTAL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-sweeper-")


def main() -> None:
    import httpx
    from sqlmodel import select

    from portal.db import session_scope, utcnow
    from portal.integrations.aftership import AfterShipClient
    from portal.jobs import tracking as sweeper
    from portal.manage import migrate
    from portal.models import Customer, Order, OrderStatus, Shipment
    from portal.settings import get_settings
    from portal.simulator import Simulator, VirtualClock

    p = argparse.ArgumentParser()
    p.add_argument("--shipments", type=int, default=600)
    args = p.parse_args()
    migrate()
    n = args.shipments
    s = get_settings()
    sim = Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret, clock=VirtualClock())
    with session_scope() as db:
        customer = Customer(name="Bench", email="bench@example.com", number="C-BENCH")
        db.add(customer)
        db.flush()
        for i in range(n):
            order = Order(number=f"FH-B{i:06d}", customer_id=customer.id or 0, status=OrderStatus.SHIPPED)
            db.add(order)
            db.flush()
            t = sim.add_tracking(slug="dhl", tracking_number=f"BENCH{i:07d}", scenario="failed_attempt")
            db.add(Shipment(order_id=order.id or 0, customer_id=customer.id or 0, carrier="dhl",
                            tracking_number=t.tracking_number, tracking_provider_id=t.id, tag="InTransit"))
    asyncio.run(sim.advance(11 * 3600))  # every parcel has left the hub

    def make_due() -> None:
        with session_scope() as db:
            for sh in db.exec(select(Shipment)).all():
                sh.next_poll_at = utcnow() - timedelta(seconds=1)
                db.add(sh)

    async def run(limit: int, concurrency: int, hours: float) -> tuple[sweeper.SweepResult, float]:
        sim.rate_limits["GET /trackings/{id}"] = limit
        await sim.advance(hours * 3600)  # the next scan of every parcel: each poll has news
        make_due()
        async with AfterShipClient(base_url="http://sim/tracking/2026-07", api_key=sim.api_key,
                                   transport=httpx.ASGITransport(app=sim.asgi()), max_wait=2.0) as c:
            started = time.perf_counter()
            result = await sweeper.sweep(c, limit=n, concurrency=concurrency)
            return result, time.perf_counter() - started

    print(f"sweeper throughput, {n} due shipments, SQLite, simulator in-process")
    print(f"{'carrier limit':>22} {'concurrency':>11} {'refreshed':>9} {'changed':>7} {'failed':>6} {'seconds':>8} "
          f"{'per minute':>10}")
    # Each round moves every parcel one scan on: depot, out for delivery, failed attempt, out again.
    cases = [(5, "5 req/s (AfterShip)", 4, 8), (5, "5 req/s (AfterShip)", 16, 7),
             (10_000, "lifted", 4, 4), (10_000, "lifted", 16, 16)]
    for limit, label, concurrency, hours in cases:
        result, secs = asyncio.run(run(limit, concurrency, hours))
        print(f"{label:>22} {concurrency:>11} {result.refreshed:>9} {result.changed:>7} {result.failed:>6} "
              f"{secs:>8.1f} {result.refreshed / secs * 60:>10.0f}")


if __name__ == "__main__":
    main()
