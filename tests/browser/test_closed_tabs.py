"""A signed-in tab that was closed costs the server nothing after a while (issue 13: "closed tabs
receive nothing and cost nothing"), while a tab that reloads or reconnects in time finds its
state as it left it.

Against the production server (`reflex run --env prod`, one worker, state in memory), with
PORTAL_CLOSED_TAB_STATE_SECONDS short; each tab is a real socket speaking Reflex's protocol.
What a person would see is the draft typed into the new-ticket form: a tab that comes back
within the time still has it, one that comes back later starts afresh (and is still signed in).
With Redis (CI's second run) tab states are Redis keys with Reflex's TTL, not this worker's memory:
skipped there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.state.support import NewTicketState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.support.aio import run_async
from tests.support.backend import Backend, serve_backend, wait_for
from tests.support.reflex_client import ReflexClient, handler_name

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(os.environ.get("REFLEX_REDIS_URL")), reason="tab states live in Redis, with its TTL"),
]

CLOSED_SECONDS = 15
HYDRATE = "reflex___state____state.hydrate_and_load"
NAVIGATE = "reflex___state____state.reflex___state____on_load_internal_state.on_load_internal"
TYPE_SUBJECT = handler_name(NewTicketState.update_subject)
PAGE = "/support/new"


@pytest.fixture(scope="module")
def server(engine: Engine, root_dir: Path) -> Iterator[Backend]:
    with serve_backend(root_dir, {"PORTAL_CLOSED_TAB_STATE_SECONDS": str(CLOSED_SECONDS)}) as backend:
        yield backend


def _kept(url: str) -> int:
    return int(httpx.get(f"{url}/api/health", timeout=30).json()["tab_states"])


def _live(url: str) -> int:
    return int(httpx.get(f"{url}/api/health", timeout=30).json()["live_tabs"])


def _subject(updates: list[dict[str, Any]]) -> str | None:
    """The new-ticket form's subject as the server last sent it in these updates (None: not sent)."""
    found = None
    for update in updates:
        for state, fields in (update.get("delta") or {}).items():
            if state.endswith("new_ticket_state"):
                for key, value in fields.items():
                    if key.split("_rx_state_")[0] == "subject":
                        found = value
    return found


async def _open(url: str, cookie: str, token: str | None = None) -> tuple[ReflexClient, str | None]:
    """A tab on the new-ticket page (a reload when `token` is an earlier tab's): the subject in the
    state its hydrate sends (the whole tab's state, as the server keeps it)."""
    tab = ReflexClient(url, cookie=cookie, token=token)
    await tab.__aenter__()
    snapshot = await tab.send(HYDRATE, path=PAGE, timeout=60)
    await tab.send(NAVIGATE, path=PAGE, timeout=60)
    return tab, _subject(snapshot)


async def _type(tab: ReflexClient, text: str) -> None:
    """Type a subject and wait until the server has sent it back (the page's load, chained after
    the navigation, and the handler, in the worker pool, may answer after the probe)."""
    await tab.send(TYPE_SUBJECT, {"value": text}, path=PAGE)
    deadline = asyncio.get_running_loop().time() + 30
    while _subject(tab.updates) != text:
        assert asyncio.get_running_loop().time() < deadline, f"the subject {text!r} never came back"
        await asyncio.sleep(0.05)


def test_a_closed_tab_is_freed_and_one_that_comes_back_in_time_keeps_its_draft(server: Backend, db: Session) -> None:
    cookie = cookie_for(db, make_customer(db)[0])

    async def scenario() -> None:
        # Given three tabs of a customer, each with a draft typed and not sent
        tabs: dict[str, ReflexClient] = {}
        for name in ("gone", "back", "open"):
            tab, subject = await _open(server.url, cookie)
            assert subject == ""
            await _type(tab, f"Draft {name}")
            tabs[name] = tab
        kept = await asyncio.to_thread(_kept, server.url)
        live = await asyncio.to_thread(_live, server.url)
        assert kept >= 3 and live >= 3

        # When two are closed, and one of them is reloaded at once
        gone, back = tabs["gone"].token, tabs["back"].token
        await tabs["gone"].__aexit__(None, None, None)
        await tabs["back"].__aexit__(None, None, None)
        # (once the server has seen both go: a socket with the token of a tab still connected is
        # a duplicated tab, which Reflex gives a new token)
        await asyncio.to_thread(wait_for, lambda: _live(server.url) == live - 2, timeout=30,
                                what="the server to see the two tabs close")
        tabs["back"], subject = await _open(server.url, cookie, token=back)
        # Then the reloaded one has its draft as it left it
        assert subject == "Draft back"

        # And the other's state is freed once its time is up (polled), not the others'
        await asyncio.to_thread(wait_for, lambda: _kept(server.url) == kept - 1, timeout=CLOSED_SECONDS + 90,
                                what="the closed tab's state to be freed")
        for name in ("back", "open"):  # the positive control: the same question finds these drafts
            again = await tabs[name].send(HYDRATE, path=PAGE, timeout=60)
            assert _subject(again) == f"Draft {name}", name

        # When the closed tab comes back after that, it starts afresh, still signed in
        tabs["gone"], subject = await _open(server.url, cookie, token=gone)
        assert subject == ""
        await _type(tabs["gone"], "Draft again")
        assert await asyncio.to_thread(_kept, server.url) == kept

        await asyncio.gather(*(t.__aexit__(None, None, None) for t in tabs.values()))

    run_async(scenario(), timeout=600)
