"""A page navigation is one event: the page's load rides the navigation's own event
(`portal.state.page_loads`, `portal.state.arrival`), so the browser gets the page's data and the
hydrated flag in one message, where Reflex's own on_load chain sends three events. The guard's rule
still decides on each load as on an event of its own: strangers go to sign in, other roles home.

Against the test server over its websocket, as the compiled frontend speaks: `hydrate_and_load`
when a tab connects, `on_load_internal` on each client-side navigation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session

from portal.models import Role
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_order, make_staff, make_ticket
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, redirects

pytestmark = pytest.mark.browser

HYDRATE = "reflex___state____state.hydrate_and_load"
NAVIGATE = "reflex___state____state.reflex___state____on_load_internal_state.on_load_internal"
HYDRATED = "is_hydrated_rx_state_"


def _hydrated_values(updates: list[dict[str, Any]]) -> list[bool]:
    return [u["delta"]["reflex___state____state"][HYDRATED] for u in updates
            if HYDRATED in ((u.get("delta") or {}).get("reflex___state____state") or {})]


async def _until_redirected(tab: ReflexClient, start: int, timeout: float = 20.0) -> list[str]:
    """The refused load is answered after the navigation's event: wait for its redirect."""
    async def poll() -> list[str]:
        while not (found := redirects(tab.updates[start:])):
            await asyncio.sleep(0.02)
        return found

    return await asyncio.wait_for(poll(), timeout)


def test_a_navigation_is_one_message_with_the_pages_data_and_the_hydrated_flag(
        db: Session, harness: Any, backend_url: str) -> None:
    user, customer = make_customer(db)
    order = make_order(db, customer)
    cookie = cookie_for(db, user)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        async with ReflexClient(backend_url, cookie=cookie) as tab:
            connect = await tab.send(HYDRATE, path="/orders")
            to_order = await tab.send(NAVIGATE, path=f"/orders/{order.id}")
            back = await tab.send(NAVIGATE, path="/dashboard")
        return connect, to_order, back

    connect, to_order, back = run(scenario())
    # A fresh tab's snapshot already carries the page's data.
    assert order.number in deltas_text(connect), connect
    # Each navigation: one message, with the page's data and the hydrated flag together
    # (Reflex's chain sent the flag off, the load's delta, then the flag on, in three).
    for updates, shown in ((to_order, order.number), (back, order.number)):
        assert len(updates) == 1, updates
        assert shown in deltas_text(updates)
        assert _hydrated_values(updates) == [True]
        assert not redirects(updates)


def test_a_stranger_navigating_to_a_customer_page_is_sent_to_sign_in_and_sees_nothing(
        db: Session, harness: Any, backend_url: str) -> None:
    user, customer = make_customer(db)
    order = make_order(db, customer)

    async def navigate(cookie: str | None) -> list[dict[str, Any]]:
        async with ReflexClient(backend_url, cookie=cookie) as tab:
            await tab.send(HYDRATE, path="/help")
            start = len(tab.updates)
            await tab.emit(NAVIGATE, path=f"/orders/{order.id}")
            if cookie is None:
                await _until_redirected(tab, start)
            else:
                await tab.send(NAVIGATE, path=f"/orders/{order.id}")  # in order: the first one's answer is in
            return tab.updates[start:]

    stranger = run(navigate(None))
    assert any(r == f"/login?next=/orders/{order.id}" for r in redirects(stranger)), stranger
    assert order.number not in deltas_text(stranger)
    # Control: the owner's navigation to the same page shows it, with no redirect.
    owner = run(navigate(cookie_for(db, user)))
    assert order.number in deltas_text(owner) and not redirects(owner)


def test_a_customer_navigating_to_a_staff_page_is_sent_home_and_sees_nothing(
        db: Session, harness: Any, backend_url: str) -> None:
    user, customer = make_customer(db)
    ticket = make_ticket(db, customer, subject="Parcel never arrived at the depot")
    agent = make_staff(db, role=Role.AGENT)

    async def navigate(cookie: str, refused: bool) -> list[dict[str, Any]]:
        async with ReflexClient(backend_url, cookie=cookie) as tab:
            await tab.send(HYDRATE, path="/help")
            start = len(tab.updates)
            await tab.emit(NAVIGATE, path="/agent")
            if refused:
                await _until_redirected(tab, start)
            else:
                await tab.send(NAVIGATE, path="/agent")
            return tab.updates[start:]

    customer_tab = run(navigate(cookie_for(db, user), refused=True))
    assert "/" in redirects(customer_tab), customer_tab
    assert ticket.subject not in deltas_text(customer_tab)
    # Control: an agent's navigation to the console shows the open ticket.
    agent_tab = run(navigate(cookie_for(db, agent), refused=False))
    assert ticket.subject in deltas_text(agent_tab) and not redirects(agent_tab)
