"""Domain events are announced only after commit; the tab registry finds the right tabs."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlmodel import Session

from portal.domain import events
from portal.domain.events import DomainEvent, Topic
from portal.live.registry import MemoryRegistry, RedisRegistry, TokenRegistry
from tests.factories import make_customer
from tests.support.aio import run_async


def test_events_are_announced_after_commit_and_dropped_on_rollback(db: Session) -> None:
    heard: list[list[DomainEvent]] = []
    events.subscribe(heard.append)
    try:
        events.emit(db, DomainEvent(topic=Topic.ORDERS, customer_id=1))
        db.rollback()
        assert heard == []
        make_customer(db)  # commits something unrelated: nothing pending any more
        assert heard == []
        events.emit(db, DomainEvent(topic=Topic.TICKETS, customer_id=2))
        db.commit()
        assert [e.topic for batch in heard for e in batch] == [Topic.TICKETS]
    finally:
        events.unsubscribe(heard.append)


def _registries() -> list[TokenRegistry]:
    out: list[TokenRegistry] = [MemoryRegistry()]
    url = os.environ.get("REFLEX_REDIS_URL")
    if url:
        from redis.asyncio import Redis

        reg = RedisRegistry(Redis.from_url(url))
        reg.PREFIX = f"portal:test:{uuid.uuid4().hex}:"
        out.append(reg)
    return out


@pytest.mark.parametrize("registry", _registries(), ids=lambda r: type(r).__name__)
def test_registry_finds_tabs_by_customer_user_and_role(registry: TokenRegistry) -> None:
    async def tabs(**who: object) -> set[str]:
        return set(await registry.audience(**who))  # type: ignore[arg-type]

    async def scenario() -> None:
        await registry.bind("tab-a1", user_id=1, customer_id=10, role="customer")
        await registry.bind("tab-a2", user_id=1, customer_id=10, role="customer")
        await registry.bind("tab-b", user_id=2, customer_id=20, role="customer")
        await registry.bind("tab-agent", user_id=3, customer_id=None, role="agent")
        assert await tabs(customer_id=10, user_ids=(), roles=()) == {"tab-a1", "tab-a2"}
        assert await tabs(customer_id=None, user_ids=(2,), roles=()) == {"tab-b"}
        assert await tabs(customer_id=None, user_ids=(), roles=("agent", "admin")) == {"tab-agent"}
        # What each tab shows now travels with it.
        await registry.set_screen("tab-a1", frozenset({"orders", "bell"}))
        found = await registry.audience(customer_id=10, user_ids=(), roles=())
        assert found == {"tab-a1": frozenset({"orders", "bell"}), "tab-a2": frozenset()}
        # A tab that signs in as someone else leaves its old groups.
        await registry.bind("tab-a2", user_id=2, customer_id=20, role="customer")
        assert await tabs(customer_id=10, user_ids=(), roles=()) == {"tab-a1"}
        await registry.unbind("tab-a1")
        assert await tabs(customer_id=10, user_ids=(), roles=()) == set()
        assert await tabs(customer_id=20, user_ids=(), roles=()) == {"tab-b", "tab-a2"}
        # An unbound tab gets no screen back (nothing revives it), and the registry is empty
        # once every tab is gone.
        await registry.set_screen("tab-a1", frozenset({"orders"}))
        assert await tabs(customer_id=10, user_ids=(), roles=()) == set()
        assert await registry.size() == 3
        for t in ("tab-a2", "tab-b", "tab-agent"):
            await registry.unbind(t)
        assert await registry.size() == 0
        if isinstance(registry, RedisRegistry):
            await registry.redis.aclose()

    run_async(scenario())
