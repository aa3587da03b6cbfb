"""What Redis holds of a tab's state, read as another worker would see it.

With several workers the portal runs Reflex's opportunistic locking (rxconfig.py): the worker
serving a tab keeps its states in memory under a lease on the tab's Redis lock and writes them to
Redis when the lease ends or another worker asks for the lock. A test that reads Redis directly
therefore first asks for each tab's lock, as another worker would (`tabs_written`): the worker
holding it writes what it keeps and lets go, and Redis then holds the tab's current state."""

from __future__ import annotations

from typing import Any

from tests.support.aio import run_async


def is_state_key(key: bytes | str) -> bool:
    """A tab's state key (`<token>_<state>`), not its lock (`<token>_lock`) or the lock's waiters."""
    k = key.decode() if isinstance(key, bytes) else key
    return not (k.endswith("_lock") or k.endswith("_lock_waiters"))


def tabs_written(url: str, tokens: list[str]) -> None:
    """Take and release each tab's lock once: whoever leased it writes first. (Opportunistic
    locking on in this manager too, so that waiting for the lock asks its holder to let go; the
    lock itself is taken without a lease of our own.)"""
    from redis.asyncio import Redis
    from reflex.istate.manager.redis import StateManagerRedis
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import State

    async def take() -> None:
        client = Redis.from_url(url)
        manager: Any = StateManagerRedis(redis=client)
        manager._oplock_enabled = True
        try:
            for token in tokens:
                async with manager._lock(BaseStateToken(ident=token, cls=State)):
                    pass
        finally:
            await manager.close()
            await client.aclose()

    run_async(take())


def tab_bytes(url: str, token: str) -> bytes:
    """Every state key of the tab, as Redis holds it once written (see `tabs_written`)."""
    import redis

    tabs_written(url, [token])
    client = redis.Redis.from_url(url)
    try:
        keys = sorted(k for k in client.scan_iter(match=f"{token}_*", count=1000) if is_state_key(k))
        assert keys, "no state of this tab in Redis"
        return b"".join(v for v in client.mget(keys) if v)
    finally:
        client.close()
