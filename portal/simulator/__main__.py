"""Run the carrier simulator on its own: `python -m portal.simulator --port 4010`.

Point the portal at it with CARRIER_SIMULATOR=false and
AFTERSHIP_BASE_URL=http://127.0.0.1:4010/tracking/2026-07; its webhooks go to --webhook-url.
The clock follows real time times --speed; POST /_control/advance?seconds=N jumps ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import uvicorn
from starlette.applications import Starlette

from portal.settings import get_settings
from portal.simulator.core import Simulator


def main() -> None:
    s = get_settings()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4010)
    p.add_argument("--webhook-url", default=f"{s.portal_public_url.rstrip('/')}/api/carrier/webhooks/aftership")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    p.add_argument("--demo", type=int, default=3, help="shipments to create at start, one per scenario")
    args = p.parse_args()
    sim = Simulator(api_key=s.aftership_api_key, webhook_secret=s.aftership_webhook_secret,
                    webhook_url=args.webhook_url)
    for i, scenario in enumerate(("standard", "delay", "failed_attempt", "exception", "pickup")[: args.demo]):
        sim.add_tracking(slug="dhl", tracking_number=f"SIM{i:08d}", scenario=scenario, start_in=timedelta(0))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                await asyncio.sleep(1)
                await sim.advance(args.speed)

        task = asyncio.create_task(tick())
        yield
        task.cancel()

    uvicorn.run(Starlette(routes=sim.routes(), lifespan=lifespan), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
