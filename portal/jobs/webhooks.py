"""Sends queued webhook deliveries (one run per tick across workers and instances)."""

from __future__ import annotations

import asyncio

import httpx

from portal import metrics
from portal.db import session_scope
from portal.domain.api import webhooks
from portal.integrations import outbound
from portal.jobs.scheduler import job
from portal.settings import get_settings

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _prepare() -> list[webhooks.Outgoing]:
    with session_scope() as db:
        webhooks.fan_out(db)
    with session_scope() as db:
        return webhooks.due(db)  # commits the attempts it could not make


async def _send(client: httpx.AsyncClient, out: webhooks.Outgoing) -> tuple[int | None, str, str]:
    url, headers, extensions = out.url, dict(out.headers), {}
    if not get_settings().webhooks_allow_private_targets:
        # Resolve now, refuse internal addresses, and connect to the address that was checked:
        # the name is not looked up again, so a changed DNS answer cannot redirect the request.
        try:
            pinned = await asyncio.to_thread(outbound.pin, out.url)
        except outbound.BlockedTarget as exc:
            return None, "", f"refused: {exc}"[:500]
        url, headers["host"] = pinned.connect_url, pinned.host_header
        extensions["sni_hostname"] = pinned.sni_hostname
    try:
        resp = await client.post(url, content=out.body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    return resp.status_code, resp.text[:2000], ""


def _record(results: list[tuple[webhooks.Outgoing, tuple[int | None, str, str]]]) -> None:
    with session_scope() as db:
        for out, (code, text, error) in results:
            webhooks.record_attempt(db, delivery_id=out.delivery_id, status_code=code, response=text, error=error)
            metrics.WEBHOOKS.labels(direction="out", source="endpoint",
                                    outcome="delivered" if code is not None and 200 <= code < 300 else "failed").inc()


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
