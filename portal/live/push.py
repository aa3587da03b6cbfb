"""Deliver domain events to open browsers by modifying each tab's state out of band.

A state class opts in with @listens(topic, ...) and implements `_on_live(topic)`, which
reloads what it shows; only states the tab has already loaded are refreshed. The refresh
re-checks the tab's session (its principal) like any event would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from portal.domain import events
from portal.domain.events import DomainEvent
from portal.live.registry import MemoryRegistry, RedisRegistry, TokenRegistry
from portal.settings import get_settings

if TYPE_CHECKING:
    from reflex.app import App

log = logging.getLogger(__name__)

_LISTENERS: dict[type, frozenset[str]] = {}


class _Runtime:
    app: App | None = None
    loop: asyncio.AbstractEventLoop | None = None
    registry: TokenRegistry = MemoryRegistry()
    tasks: set[asyncio.Task[Any]] = set()


runtime = _Runtime()


def listens(*topics: str) -> Any:
    def decorate(cls: type) -> type:
        _LISTENERS[cls] = frozenset(topics)
        return cls

    return decorate


def listeners_for(topic: str) -> list[type]:
    return [cls for cls, topics in _LISTENERS.items() if topic in topics]


async def bind_token(token: str, *, user_id: int | None, customer_id: int | None, role: str) -> None:
    if not token:
        return
    if user_id is None:
        await runtime.registry.unbind(token)
    else:
        await runtime.registry.bind(token, user_id=user_id, customer_id=customer_id, role=role)


async def deliver(batch: list[DomainEvent]) -> int:
    """Refresh every loaded listening state of every tab concerned. Returns tabs refreshed."""
    from reflex.istate.manager.token import BaseStateToken

    app = runtime.app
    if app is None:
        return 0
    refreshed = 0
    for ev in batch:
        classes = listeners_for(ev.topic)
        if not classes:
            continue
        tokens = await runtime.registry.tokens(customer_id=ev.customer_id, user_ids=ev.user_ids, roles=ev.roles)
        for token in tokens:
            for cls in classes:
                try:
                    async with app.modify_state(BaseStateToken(ident=token, cls=cls)) as root:
                        state: Any = await root.get_state(cls)
                        if getattr(state, "loaded", False):
                            await state._on_live(ev)
                            refreshed += 1
                except Exception:
                    log.exception("live delivery of %s to a tab failed", ev.topic)
    return refreshed


def _on_commit(batch: list[DomainEvent]) -> None:
    loop = runtime.loop
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(deliver(batch))
        runtime.tasks.add(task)
        task.add_done_callback(runtime.tasks.discard)
    else:
        # Committed from another thread (a sync job, a test): hand over to the app's loop.
        asyncio.run_coroutine_threadsafe(deliver(batch), loop)


@contextlib.asynccontextmanager
async def live_lifespan(app: App) -> AsyncIterator[None]:
    runtime.app = app
    runtime.loop = asyncio.get_running_loop()
    redis_url = get_settings().reflex_redis_url
    client = None
    if redis_url:
        client = RedisRegistry(_redis(redis_url))
        runtime.registry = client
    events.subscribe(_on_commit)
    try:
        yield
    finally:
        events.unsubscribe(_on_commit)
        runtime.loop = None
        if client is not None:
            await client.redis.aclose()


def _redis(url: str) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(url)
