"""The tracking sweeper: ask the carrier about every shipment whose next poll is due.

Cadence by status and jitter live in domain/tracking.py (next_poll_after); here: at most
TRACKING_POLL_CONCURRENCY requests at once (asyncio.Semaphore), and every failure (timeout,
429, 5xx, anything) only pushes that shipment's next poll back with exponential backoff,
keeping all it already knows. The scheduler's JobRun row lets exactly one worker run a tick;
due shipments are also leased for a few minutes, so a run that outlasts its tick and the next
one never ask about the same shipment twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime

from portal.db import session_scope, utcnow
from portal.domain import tracking
from portal.integrations import aftership
from portal.integrations.aftership import AfterShipClient, Tracking
from portal.jobs.scheduler import job
from portal.settings import get_settings

log = logging.getLogger(__name__)


def carrier_client() -> AfterShipClient:
    s = get_settings()
    if s.simulator_in_process:
        from portal.simulator import embedded

        return AfterShipClient(base_url=embedded.BASE_URL, api_key=s.aftership_api_key,
                               timeout=s.aftership_timeout_seconds, transport=embedded.transport())
    return AfterShipClient(base_url=s.aftership_base_url, api_key=s.aftership_api_key,
                           timeout=s.aftership_timeout_seconds)


async def fetch(client: AfterShipClient, target: tracking.PollTarget) -> Tracking:
    """The carrier's snapshot of one shipment: by id when we know it, else found or created."""
    if target.provider_id:
        try:
            return await client.get_tracking(target.provider_id)
        except aftership.TrackingNotFound:
            pass
    page = await client.list_trackings(tracking_numbers=[target.tracking_number], slug=target.carrier, limit=5)
    for t in page.trackings:
        if t.tracking_number == target.tracking_number and t.slug == target.carrier:
            return t
    return await client.create_tracking(tracking_number=target.tracking_number, slug=target.carrier,
                                        title=target.order_number, order_number=target.order_number)


@dataclasses.dataclass
class SweepResult:
    due: int = 0
    refreshed: int = 0
    changed: int = 0
    failed: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"due {self.due}, refreshed {self.refreshed} ({self.changed} changed), failed {self.failed} "
                f"({self.rate_limited} rate limited) in {self.seconds:.1f}s")


def _lease(now: datetime, limit: int) -> list[tracking.PollTarget]:
    with session_scope() as db:
        return tracking.lease_due(db, now=now, limit=limit)


def _record(shipment_id: int, snapshot: Tracking) -> tracking.ApplyResult:
    with session_scope() as db:
        return tracking.record_poll(db, shipment_id=shipment_id, snapshot=snapshot)


def _failed(shipment_id: int, retry_after: float) -> None:
    with session_scope() as db:
        tracking.record_poll_failure(db, shipment_id=shipment_id, retry_after=retry_after)


async def sweep(client: AfterShipClient, *, now: datetime | None = None, limit: int | None = None,
                concurrency: int | None = None) -> SweepResult:
    s = get_settings()
    started = time.perf_counter()
    targets = await asyncio.to_thread(_lease, now or utcnow(), limit or s.tracking_poll_batch)
    result = SweepResult(due=len(targets))
    gate = asyncio.Semaphore(concurrency or s.tracking_poll_concurrency)

    async def one(target: tracking.PollTarget) -> None:
        async with gate:
            try:
                snapshot = await fetch(client, target)
            except aftership.Retryable as exc:
                result.failed += 1
                result.rate_limited += isinstance(exc, aftership.RateLimited)
                await asyncio.to_thread(_failed, target.shipment_id, exc.retry_after)
                return
            except aftership.AfterShipError as exc:
                log.warning("carrier refused shipment %s: %s", target.shipment_id, exc)
                result.failed += 1
                await asyncio.to_thread(_failed, target.shipment_id, 0.0)
                return
        applied = await asyncio.to_thread(_record, target.shipment_id, snapshot)
        result.refreshed += 1
        result.changed += applied.outcome == "applied"

    await asyncio.gather(*(one(t) for t in targets))
    result.seconds = time.perf_counter() - started
    return result


@job("tracking-sweep", seconds=60)
async def tracking_sweep(now: datetime | None = None) -> str:
    async with carrier_client() as client:
        return str(await sweep(client, now=now))
