"""Which browser tabs (Reflex client tokens) belong to which user, customer and role, and which
listening states each of them shows now.

One process keeps it in memory. With several workers (REFLEX_REDIS_URL) it lives in Redis,
so the worker that learns of a change finds every tab, whichever worker holds its socket;
Reflex forwards the update to that worker.

A tab is bound when its socket hydrates and unbound when the socket disconnects, so closed
tabs receive nothing and cost nothing. In Redis a tab's entry also expires unless the worker
holding its socket renews it (``touch``), so a worker that dies takes its tabs with it.
"""

from __future__ import annotations

from typing import Any, Protocol

from portal.live.resp import PipelinedRedis

TOKEN_TTL_SECONDS = 30 * 60
GROUP_TTL_SECONDS = 24 * 3600


class TokenRegistry(Protocol):
    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str,
                   screen: frozenset[str] = frozenset()) -> None: ...
    async def set_screen(self, token: str, screen: frozenset[str]) -> None: ...
    async def unbind(self, token: str) -> None: ...
    async def touch(self, tokens: list[str]) -> None: ...
    async def audience(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                       roles: tuple[str, ...]) -> dict[str, frozenset[str]]: ...
    async def size(self) -> int: ...


def _keys(user_id: int, customer_id: int | None, role: str) -> list[str]:
    keys = [f"user:{user_id}", f"role:{role}"]
    if customer_id is not None:
        keys.append(f"customer:{customer_id}")
    return keys


def _wanted(customer_id: int | None, user_ids: tuple[int, ...], roles: tuple[str, ...]) -> list[str]:
    keys = [f"user:{u}" for u in user_ids] + [f"role:{r}" for r in roles]
    if customer_id is not None:
        keys.append(f"customer:{customer_id}")
    return keys


class MemoryRegistry:
    def __init__(self) -> None:
        self._groups: dict[str, set[str]] = {}
        self._of_token: dict[str, list[str]] = {}
        self._screen: dict[str, frozenset[str]] = {}

    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str,
                   screen: frozenset[str] = frozenset()) -> None:
        await self.unbind(token)
        keys = _keys(user_id, customer_id, role)
        for k in keys:
            self._groups.setdefault(k, set()).add(token)
        self._of_token[token] = keys
        self._screen[token] = screen

    async def set_screen(self, token: str, screen: frozenset[str]) -> None:
        if token in self._of_token:
            self._screen[token] = screen

    async def unbind(self, token: str) -> None:
        for k in self._of_token.pop(token, []):
            group = self._groups.get(k)
            if group is not None:
                group.discard(token)
                if not group:
                    del self._groups[k]
        self._screen.pop(token, None)

    async def touch(self, tokens: list[str]) -> None:
        return None

    async def audience(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                       roles: tuple[str, ...]) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for k in _wanted(customer_id, user_ids, roles):
            for token in self._groups.get(k, ()):
                out[token] = self._screen.get(token, frozenset())
        return out

    async def size(self) -> int:
        return len(self._of_token)


class RedisRegistry:
    PREFIX = "portal:live:"

    def __init__(self, redis: Any, fast: PipelinedRedis | None = None) -> None:
        self.redis = redis
        # What a navigation sends (its screen) goes through one pipelined connection (resp.py).
        self.fast = fast

    def _tkey(self, token: str) -> str:
        return self.PREFIX + "token:" + token

    async def bind(self, token: str, *, user_id: int, customer_id: int | None, role: str,
                   screen: frozenset[str] = frozenset()) -> None:
        await self.unbind(token)
        keys = [self.PREFIX + k for k in _keys(user_id, customer_id, role)]
        pipe = self.redis.pipeline()
        for k in keys:
            pipe.sadd(k, token)
            pipe.expire(k, GROUP_TTL_SECONDS)
        pipe.hset(self._tkey(token), mapping={"groups": "\n".join(keys), "screen": "\n".join(sorted(screen))})
        pipe.expire(self._tkey(token), TOKEN_TTL_SECONDS)
        await pipe.execute()

    async def set_screen(self, token: str, screen: frozenset[str]) -> None:
        # Only a bound tab (its entry exists) gets a screen: HSET would revive an expired one.
        script = ("if redis.call('EXISTS', KEYS[1]) == 1 then "
                  "redis.call('HSET', KEYS[1], 'screen', ARGV[1]) end return 0")
        if self.fast is not None:
            await self.fast.execute("EVAL", script, 1, self._tkey(token), "\n".join(sorted(screen)))
        else:
            await self.redis.eval(script, 1, self._tkey(token), "\n".join(sorted(screen)))

    async def unbind(self, token: str) -> None:
        tkey = self._tkey(token)
        groups = await self.redis.hget(tkey, "groups")
        pipe = self.redis.pipeline()
        for k in (groups.decode() if isinstance(groups, bytes) else groups or "").split("\n"):
            if k:
                pipe.srem(k, token)
        pipe.delete(tkey)
        await pipe.execute()

    async def touch(self, tokens: list[str]) -> None:
        if not tokens:
            return
        pipe = self.redis.pipeline(transaction=False)
        for token in tokens:
            pipe.expire(self._tkey(token), TOKEN_TTL_SECONDS)
        await pipe.execute()

    async def audience(self, *, customer_id: int | None, user_ids: tuple[int, ...],
                       roles: tuple[str, ...]) -> dict[str, frozenset[str]]:
        keys = [self.PREFIX + k for k in _wanted(customer_id, user_ids, roles)]
        if not keys:
            return {}
        members = await self.redis.sunion(keys)
        tokens = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if not tokens:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for token in tokens:
            pipe.hget(self._tkey(token), "groups")
            pipe.hget(self._tkey(token), "screen")
        answers = await pipe.execute()
        out: dict[str, frozenset[str]] = {}
        stale: list[str] = []
        for i, token in enumerate(tokens):
            groups, screen = answers[2 * i], answers[2 * i + 1]
            if groups is None:  # expired: its worker is gone or it was never unbound
                stale.append(token)
                continue
            text = screen.decode() if isinstance(screen, bytes) else (screen or "")
            out[token] = frozenset(s for s in text.split("\n") if s)
        if stale:
            pipe = self.redis.pipeline(transaction=False)
            for k in keys:
                pipe.srem(k, *stale)
            await pipe.execute()
        return out

    async def size(self) -> int:
        count = 0
        async for _ in self.redis.scan_iter(match=self.PREFIX + "token:*", count=500):
            count += 1
        return count
