"""What people do (page views, form progress), written in batches off the request path.

Every signed-in page records its view (the route pattern only). Writing a row in the event
that shows the page would cost each navigation a database write, and on SQLite every writer
waits for the one before it. So events are noted in memory and written together, about once a
second, in one transaction of the worker pool; anything left is written when the worker stops.
A worker that dies loses at most that second of analytics, never anything a person did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from portal.db import session_scope
from portal.domain import insights
from portal.domain.principal import Principal

log = logging.getLogger(__name__)
FLUSH_EVERY_SECONDS = 1.0
MAX_PENDING = 20_000  # past this (the database is away), the oldest are dropped

_lock = threading.Lock()
_pending: list[tuple[Principal | None, str, str, str]] = []


def note(principal: Principal | None, kind: str, path: str, name: str = "") -> None:
    with _lock:
        _pending.append((principal, kind, path, name))
        if len(_pending) > MAX_PENDING:
            del _pending[: len(_pending) - MAX_PENDING]


def flush() -> int:
    """Write what was noted (blocking: call it from a thread). Returns rows written."""
    with _lock:
        batch = _pending[:]
        _pending.clear()
    if not batch:
        return 0
    try:
        with session_scope() as db:
            return insights.record_many(db, batch)
    except Exception:  # noqa: BLE001 - one bad row (say, of an account deleted meanwhile) ...
        log.warning("could not write %d analytics events together; writing them one by one", len(batch))
    written = 0  # ... must not lose the others
    for principal, kind, path, name in batch:
        try:
            with session_scope() as db:
                written += insights.record(db, principal=principal, kind=kind, path=path, name=name)
        except Exception:
            log.exception("dropped one analytics event (%s %s)", kind, path)
    return written


@contextlib.asynccontextmanager
async def analytics_lifespan(app: Any) -> AsyncIterator[None]:
    from portal.live.runtime import offload

    async def loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECONDS)
            if _pending:
                await offload(flush)

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        await offload(flush)
