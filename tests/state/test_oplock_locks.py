"""With several workers the portal runs Reflex's Redis state manager with opportunistic locking
(rxconfig.py): a worker keeps a tab's states in memory while it leases the tab's Redis lock.
Reflex makes an asyncio.Lock per tab for that and never drops it; the portal's manager
(`portal.state.tab_states.StrangerRedis.prune_idle_locks`) forgets the ones whose lease ended, so
a worker does not keep one for every tab ever opened. On a real Redis (it runs on every machine)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken

import portal.portal  # noqa: F401 - registers every page and state
from portal.state import tab_states
from portal.state.session import LoginState
from tests.support.aio import run_async


async def _until(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_a_tabs_lock_is_forgotten_once_its_lease_ended_and_its_state_is_kept() -> None:
    from redis.asyncio import Redis

    async def scenario() -> None:
        redis = Redis.from_url(os.environ.get("REFLEX_REDIS_URL") or "redis://127.0.0.1:6379")
        manager: Any = StateManagerRedis(redis=redis, lock_expiration=4000, lock_warning_threshold=1000,
                                         oplock_hold_time_ms=300)
        manager._oplock_enabled = True
        manager.__class__ = tab_states.StrangerRedis
        manager.full_expiration = manager.token_expiration
        token = BaseStateToken(ident=uuid.uuid4().hex, cls=LoginState)
        try:
            await _until(manager._lock_updates_subscribed.is_set, "the lock channel's subscription")
            async with manager.modify_state(token) as root:
                (await root.get_state(LoginState)).notice = "kept across the lease"
            lock_key = token.lock_key
            # While the lease runs, the tab's lock is kept (the control: prune does find it).
            assert lock_key in manager._local_leases and lock_key in manager._cached_states_locks
            assert manager.prune_idle_locks() == 0 and lock_key in manager._cached_states_locks
            await _until(lambda: lock_key not in manager._local_leases, "the lease to end")
            assert lock_key in manager._cached_states_locks  # what Reflex leaves behind
            assert manager.prune_idle_locks() == 1
            assert lock_key not in manager._cached_states_locks
            # The state was written to Redis when the lease ended, and the tab leases again.
            async with manager.modify_state(token) as root:
                assert (await root.get_state(LoginState)).notice == "kept across the lease"
            assert lock_key in manager._cached_states_locks
        finally:
            await _until(lambda: not manager._local_leases, "the last lease to end")
            keys = [k async for k in redis.scan_iter(match=f"{token.ident}*")]
            if keys:
                await redis.delete(*keys)
            await manager.close()
            await redis.aclose()

    run_async(scenario())
