"""Strangers' tabs stay cheap (security issue: "600 anonymous tabs added thousands of state
files"), attacked as the tester did: many tabs with no session open /login and /help and search,
against the production server (`reflex run --env prod`, one worker; with REFLEX_REDIS_URL two
workers sharing Redis, as CI's second run).

Bounds: while open, each stranger's tab costs the server less than RSS_PER_TAB of memory and (in
Redis) less than REDIS_BYTES_PER_TAB; once the tabs close their states are gone within
PORTAL_STRANGER_STATE_SECONDS plus the sweep, on disk nothing is ever written for them.
Positive control, by the same measure in the same run: signed-in tabs' states are still kept
afterwards (a closed signed-in tab's for PORTAL_CLOSED_TAB_STATE_SECONDS, ten minutes: see
tests/browser/test_closed_tabs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.state.help import HelpState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.support.aio import run_async
from tests.support.backend import Backend, serve_backend, wait_for
from tests.support.redis_state import is_state_key, tabs_written
from tests.support.reflex_client import ReflexClient, handler_name

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STRANGER_SECONDS = 30
STRANGERS = 120
SIGNED_IN = 3
WAVE = 20
RSS_PER_TAB = 1024 * 1024
REDIS_BYTES_PER_TAB = 64 * 1024
HYDRATE = "reflex___state____state.hydrate_and_load"
NAVIGATE = "reflex___state____state.reflex___state____on_load_internal_state.on_load_internal"
SEARCH = handler_name(HelpState.search)
REDIS_URL = os.environ.get("REFLEX_REDIS_URL", "")


@pytest.fixture(scope="module")
def server(engine: Engine, root_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    states = tmp_path_factory.mktemp("anon-states")
    env = {"PORTAL_STRANGER_STATE_SECONDS": str(STRANGER_SECONDS), "REFLEX_STATES_WORKDIR": str(states)}
    with serve_backend(root_dir, env, workers=2 if REDIS_URL else 1) as backend:
        yield backend


def _rss(proc: Any) -> int:
    import psutil

    root = psutil.Process(proc.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


async def _open(url: str, cookie: str | None, i: int) -> ReflexClient:
    c = ReflexClient(url, cookie=cookie)
    await c.__aenter__()
    await c.send(HYDRATE, path="/login", timeout=120)
    await c.send(NAVIGATE, path="/help", timeout=120)
    await c.send(SEARCH, {"form_data": {"q": f"return label {i}"}}, path="/help", timeout=120)
    return c


async def _open_many(url: str, cookies: list[str | None]) -> list[ReflexClient]:
    out: list[ReflexClient] = []
    for start in range(0, len(cookies), WAVE):
        out += await asyncio.gather(*(_open(url, c, start + k) for k, c in enumerate(cookies[start:start + WAVE])))
    return out


async def _close(tabs: list[ReflexClient]) -> None:
    await asyncio.gather(*(t.__aexit__(None, None, None) for t in tabs))


class Kept:
    """The tab states the server keeps: the worker's count (memory), or each tab's keys in Redis."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: Any = None
        if REDIS_URL:
            import redis

            self.redis = redis.Redis.from_url(REDIS_URL)

    def count(self) -> int:
        body = httpx.get(f"{self.url}/api/health", timeout=30).json()
        return int(body["tab_states"])

    def keys(self, token: str) -> list[bytes]:
        """The tab's state keys (not its lock's, which a worker leasing the tab holds meanwhile)."""
        return [k for k in self.redis.scan_iter(match=f"{token}_*", count=1000) if is_state_key(k)]

    def written(self, tokens: list[str]) -> None:
        """Have the workers write what they keep of these tabs (tests/support/redis_state.py)."""
        tabs_written(REDIS_URL, tokens)

    def redis_bytes(self, tokens: list[str]) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for t in tokens:
            for k in self.keys(t):
                pipe.memory_usage(k)
        return sum(int(s or 0) for s in pipe.execute())

    def ttls(self, token: str) -> list[int]:
        return [int(self.redis.ttl(k)) for k in self.keys(token)]


def test_a_flood_of_strangers_tabs_is_bounded_and_reclaimed(server: Backend, db: Session) -> None:
    kept = Kept(server.url)
    cookies = [cookie_for(db, make_customer(db)[0]) for _ in range(SIGNED_IN)]

    async def scenario() -> None:
        # The signed-in control first (their tabs stay open through the attack); a first wave of
        # strangers warms every worker up (imports, pools), so that is not counted per tab.
        signed = await _open_many(server.url, list(cookies))
        await _close(await _open_many(server.url, [None] * WAVE))
        if not REDIS_URL:
            wait_for(lambda: kept.count() <= SIGNED_IN, timeout=STRANGER_SECONDS + 90,
                     what="the warm-up strangers' states to be dropped")
        rss0 = _rss(server.process)
        before = None if REDIS_URL else kept.count()
        # When a stranger's script opens many tabs, each on /login, then /help, then searching
        strangers = await _open_many(server.url, [None] * STRANGERS)
        grown = (_rss(server.process) - rss0) / STRANGERS
        print(f"RSS +{grown / 1024:.0f} KiB per stranger's tab")
        # Then each costs the server little while open
        assert grown < RSS_PER_TAB, f"RSS grew {grown / 1024:.0f} KiB per stranger's tab"
        tokens = [t.token for t in strangers]
        if REDIS_URL:
            kept.written(tokens + [c.token for c in signed])
            per_tab = kept.redis_bytes(tokens) / STRANGERS
            print(f"Redis: {sum(len(kept.keys(t)) for t in tokens) / STRANGERS:.1f} keys, "
                  f"{per_tab / 1024:.1f} KiB per stranger's tab")
            assert 0 < per_tab < REDIS_BYTES_PER_TAB, f"{per_tab / 1024:.1f} KiB of Redis per stranger's tab"
            # written with the strangers' short expiry, the signed-in tabs' with Reflex's hour
            assert all(0 < ttl <= STRANGER_SECONDS for t in tokens[:10] for ttl in kept.ttls(t))
            assert all(ttl > 600 for c in signed for ttl in kept.ttls(c.token))
        else:
            assert before is not None and kept.count() - before == STRANGERS  # the measure sees them
        await _close(strangers)
        await _close(signed)
        # And once they close, their states go within the strangers' expiry and the sweep (polled)
        if REDIS_URL:
            wait_for(lambda: not any(kept.keys(t) for t in tokens), timeout=STRANGER_SECONDS + 90,
                     what="the strangers' Redis keys to expire")
            # while the signed-in tabs' states are kept as long as before (the positive control)
            assert all(kept.keys(c.token) and min(kept.ttls(c.token)) > 600 for c in signed)
        else:
            wait_for(lambda: kept.count() <= SIGNED_IN, timeout=STRANGER_SECONDS + 90,
                     what="the strangers' states to be dropped from memory")
            # the signed-in tabs' states, closed too but kept for PORTAL_CLOSED_TAB_STATE_SECONDS (ten minutes)
            assert kept.count() == SIGNED_IN

    # In a thread of its own: once a browser test ran in this worker, Playwright owns its event loop.
    run_async(scenario(), timeout=900)
