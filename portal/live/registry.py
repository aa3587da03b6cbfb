"""Which browser tabs (Reflex client tokens) belong to which user, customer and role.

One process keeps it in memory. With several workers (REFLEX_REDIS_URL) it lives in Redis,
so the worker that learns of a change finds every tab, whichever worker holds its socket;
Reflex forwards the update to that worker.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

TTL_SECONDS = 24 * 3600


class TokenRegistry(Protocol):
    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str) -> None: ...
    async def unbind(self, token: str) -> None: ...
    async def tokens(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                     roles: tuple[str, ...]) -> set[str]: ...


def _keys(user_id: int, customer_id: int | None, role: str) -> list[str]:
    keys = [f"user:{user_id}", f"role:{role}"]
    if customer_id is not None:
        keys.append(f"customer:{customer_id}")
    return keys


class MemoryRegistry:
    def __init__(self) -> None:
        self._groups: dict[str, set[str]] = {}
        self._of_token: dict[str, list[str]] = {}

    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str) -> None:
        await self.unbind(token)
        keys = _keys(user_id, customer_id, role)
        for k in keys:
            self._groups.setdefault(k, set()).add(token)
        self._of_token[token] = keys

    async def unbind(self, token: str) -> None:
        for k in self._of_token.pop(token, []):
            self._groups.get(k, set()).discard(token)

    async def tokens(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                     roles: tuple[str, ...]) -> set[str]:
        keys = [f"user:{u}" for u in user_ids] + [f"role:{r}" for r in roles]
        if customer_id is not None:
            keys.append(f"customer:{customer_id}")
        out: set[str] = set()
        for k in keys:
            out |= self._groups.get(k, set())
        return out


class RedisRegistry:
    PREFIX = "portal:live:"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str) -> None:
        await self.unbind(token)
        keys = [self.PREFIX + k for k in _keys(user_id, customer_id, role)]
        pipe = self.redis.pipeline()
        for k in keys:
            pipe.sadd(k, token)
            pipe.expire(k, TTL_SECONDS)
        pipe.delete(self.PREFIX + "token:" + token)
        pipe.rpush(self.PREFIX + "token:" + token, *keys)
        pipe.expire(self.PREFIX + "token:" + token, TTL_SECONDS)
        await pipe.execute()

    async def unbind(self, token: str) -> None:
        tkey = self.PREFIX + "token:" + token
        keys = await self.redis.lrange(tkey, 0, -1)  # type: ignore[misc]
        if keys:
            pipe = self.redis.pipeline()
            for k in keys:
                pipe.srem(k, token)
            pipe.delete(tkey)
            await pipe.execute()

    async def tokens(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                     roles: tuple[str, ...]) -> set[str]:
        keys = [f"user:{u}" for u in user_ids] + [f"role:{r}" for r in roles]
        if customer_id is not None:
            keys.append(f"customer:{customer_id}")
        if not keys:
            return set()
        members = await self.redis.sunion([self.PREFIX + k for k in keys])  # type: ignore[misc]
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}
