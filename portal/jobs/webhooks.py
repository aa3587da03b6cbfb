"""Sends queued webhook deliveries (one run per tick across workers and instances)."""

from __future__ import annotations

import asyncio

import httpx

from portal.db import session_scope
from portal.domain.api import webhooks
from portal.jobs.scheduler import job

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _prepare() -> list[webhooks.Outgoing]:
    with session_scope() as db:
        webhooks.fan_out(db)
    with session_scope() as db:
        return webhooks.due(db)  # commits the attempts it could not make


async def _send(client: httpx.AsyncClient, out: webhooks.Outgoing) -> tuple[int | None, str, str]:
    try:
        resp = await client.post(out.url, content=out.body, headers=out.headers)
    except httpx.HTTPError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    return resp.status_code, resp.text[:2000], ""


def _record(results: list[tuple[webhooks.Outgoing, tuple[int | None, str, str]]]) -> None:
    with session_scope() as db:
        for out, (code, text, error) in results:
            webhooks.record_attempt(db, delivery_id=out.delivery_id, status_code=code, response=text, error=error)


async def deliver_once(*, client: httpx.AsyncClient | None = None) -> str:
    batch = await asyncio.to_thread(_prepare)
    if not batch:
        return "sent 0"
    own = client is None
    c = client or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
    try:
        results = await asyncio.gather(*(_send(c, out) for out in batch))
    finally:
        if own:
            await c.aclose()
    await asyncio.to_thread(_record, list(zip(batch, results, strict=True)))
    return f"sent {len(batch)}"


@job("webhook-deliveries", seconds=15)
async def deliver_webhooks() -> str:
    return await deliver_once()


def _prune() -> str:
    with session_scope() as db:
        return f"pruned {webhooks.prune(db)}"


@job("api-retention", seconds=3600)
async def prune_api_records() -> str:
    return await asyncio.to_thread(_prune)
