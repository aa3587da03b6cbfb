"""Help-center searches are limited per person and per address (issue 14: a stranger made 604
searches in 25 s, each stored, polluting the insights), attacked over Reflex's websocket."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, func, select

from portal.domain import throttle
from portal.models import SearchQuery
from portal.state.help import HelpState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.factories_support import make_article
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

pytestmark = pytest.mark.browser
SEARCH = handler_name(HelpState.search)


async def _search(backend_url: str, cookie: str | None, times: int) -> str:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out: list[dict[str, Any]] = []
        for i in range(times):
            out += await c.send(SEARCH, {"form_data": {"q": f"return label {i}"}}, path="/help")
        return deltas_text(out)


def _stored(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(func.count()).select_from(SearchQuery)).one())


def test_a_stranger_searching_in_a_loop_is_stopped_and_stores_no_more(db: Session, harness: Any,
                                                                      backend_url: str) -> None:
    make_article(db, title="Printing a return label", body="Open the order and choose return.")
    allowance = throttle.HELP_SEARCHES.limit
    # When a stranger's script searches far more often than a person types
    text = run(_search(backend_url, None, allowance + 10))
    # Then only the allowance is stored, and the page says why the rest found nothing
    assert _stored(db) == allowance
    assert "searched many times in a short while" in text
    # And a new tab from the same address gets no fresh allowance
    assert "searched many times" in run(_search(backend_url, None, 1)) and _stored(db) == allowance
    # While a signed-in customer (counted as herself) still searches and finds the article
    ua, _ = make_customer(db)
    assert "Printing a return label" in run(_search(backend_url, cookie_for(db, ua), 1))
    assert _stored(db) == allowance + 1
