"""Page loads served from kept views run on the event loop without a thread hop; anything that
would block there (a session, a statement, heavy work) sends the handler to the worker pool
instead, and what the page shows is the same either way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from portal.concurrency import heavy
from portal.db import get_engine, session_scope
from portal.live.loop import NeedsWorker, on_loop_attempt, shared_counters_read
from portal.models import Order
from portal.state.orders import OrderListState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_order
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

pytestmark = pytest.mark.browser


def _open_session() -> None:
    with session_scope():
        pass


def _raw_statement() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("select 1"))


def _heavy_work() -> None:
    with heavy():
        pass


@pytest.mark.parametrize("blocking", [_open_session, _raw_statement, _heavy_work])
def test_blocking_work_is_refused_inside_a_loop_try_and_allowed_outside(blocking: Any) -> None:
    blocking()  # positive control: the same work runs anywhere else
    with pytest.raises(NeedsWorker):
        on_loop_attempt(None, blocking)
    blocking()  # and the refusal does not stick


def test_a_shared_counter_not_read_before_the_try_sends_it_to_the_pool() -> None:
    keys = ("v:c1:orders", "v:c1:shipments")
    assert shared_counters_read(keys) is None  # off the loop: read them now
    assert on_loop_attempt({k: 3 for k in keys}, shared_counters_read, keys) == (3, 3)
    with pytest.raises(NeedsWorker):
        on_loop_attempt({"v:c1:orders": 3}, shared_counters_read, keys)
    with pytest.raises(NeedsWorker):
        on_loop_attempt(None, shared_counters_read, keys)


def _loop_stats(backend_url: str) -> dict[str, int]:
    return httpx.get(f"{backend_url}/api/health").json()["loop_first"]  # type: ignore[no-any-return]


async def _send_counted(tab: ReflexClient, backend_url: str, name: str, path: str) -> tuple[dict[str, int],
                                                                                           list[dict[str, Any]]]:
    """Send one event; how the server's loop tries moved meanwhile, and what it answered."""
    before = _loop_stats(backend_url)
    updates = await tab.send(name, path=path)
    after = _loop_stats(backend_url)
    return {k: after[k] - before[k] for k in after}, updates


def test_an_orders_page_load_is_served_on_the_loop_until_an_order_changes(db: Session, harness: Any,
                                                                         backend_url: str) -> None:
    user, customer = make_customer(db)
    order = make_order(db, customer)
    cookie = cookie_for(db, user)
    load = handler_name(OrderListState.load)

    async def scenario() -> tuple[list[dict[str, int]], list[str]]:
        stats, seen = [], []
        async with ReflexClient(backend_url, cookie=cookie) as tab:
            for change in (None, None, "cancelled"):
                if change is not None:
                    with session_scope() as s:  # a write any worker or script could make
                        row = s.get(Order, order.id)
                        assert row is not None
                        row.status = change
                        s.add(row)
                moved, updates = await _send_counted(tab, backend_url, load, "/orders")
                stats.append(moved)
                seen.append(deltas_text(updates))
        return stats, seen

    stats, seen = run(scenario())
    # Every load shows the order as it is at that moment
    assert order.number in seen[0] and "Cancelled" in seen[2] and "Cancelled" not in seen[0]
    # The first load reads the database: tried on the loop, sent to the pool
    assert stats[0] == {"served_on_loop": 0, "sent_to_pool": 1}
    # The same page again with nothing changed: served on the loop from the kept view (with
    # Redis, after one async read of the versions that load used the time before)
    assert stats[1] == {"served_on_loop": 1, "sent_to_pool": 0}
    # After the order changed: the kept view is stale, so the pool reads it again
    assert stats[2] == {"served_on_loop": 0, "sent_to_pool": 1}


def test_a_click_that_only_changes_the_page_is_answered_on_the_loop(harness: Any, backend_url: str) -> None:
    """`@on_loop` handlers (a toggle, a choice, a field typed) take no thread: the answer comes
    from the loop, so it does not wait behind other people's work in the worker pool."""
    from portal.state.session import LoginState

    toggle, unmarked = handler_name(LoginState.toggle_recovery), handler_name(LoginState.cancel_mfa)

    def shown(updates: list[dict[str, Any]]) -> list[Any]:
        """The values of LoginState.use_recovery the updates carry (Reflex suffixes field names)."""
        return [value for update in updates for sub in (update.get("delta") or {}).values()
                for key, value in sub.items() if key.startswith("use_recovery")]

    async def scenario() -> tuple[list[dict[str, int]], list[list[Any]]]:
        stats, seen = [], []
        async with ReflexClient(backend_url) as tab:
            for name in (unmarked, toggle, toggle):
                moved, updates = await _send_counted(tab, backend_url, name, "/login")
                stats.append(moved)
                seen.append(shown(updates))
        return stats, seen

    stats, seen = run(scenario())
    # Control: a plain handler goes to the pool, not through the loop's try
    assert stats[0] == {"served_on_loop": 0, "sent_to_pool": 0}
    # The toggle is served on the loop, both times, and the page gets each answer
    assert stats[1] == stats[2] == {"served_on_loop": 1, "sent_to_pool": 0}
    assert seen[1:] == [[True], [False]]
