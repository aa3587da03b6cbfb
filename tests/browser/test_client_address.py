"""Behind a reverse proxy the per-address throttle counts each real client; a client that reaches
the portal directly cannot pick its address with X-Forwarded-For (issue 14: behind nginx every
client was nginx). Attacked over Reflex's websocket: strangers' help-center searches are limited
per address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from sqlmodel import Session, func, select

from portal.domain import throttle
from portal.models import SearchQuery
from portal.settings import reset_settings_cache
from portal.state.help import HelpState
from tests.factories_support import make_article
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

pytestmark = pytest.mark.browser
LIMITED = "searched many times in a short while"


class HeaderClient(ReflexClient):
    """A websocket client whose handshake carries these headers: X-Forwarded-For, as nginx sends it
    (or an attacker would), or the Origin of the page that opens the socket."""

    def __init__(self, backend_url: str, headers: dict[str, str]) -> None:
        super().__init__(backend_url)
        self.headers = headers

    async def __aenter__(self) -> ReflexClient:
        await self.sio.connect(f"{self.backend_url}?token={self.token}", socketio_path="/_event",
                               transports=["websocket"], headers=self.headers,
                               namespaces=["/_event"], wait_timeout=10)
        return self


async def _searches(backend_url: str, forwarded_for: str, times: int) -> str:
    async with HeaderClient(backend_url, {"X-Forwarded-For": forwarded_for}) as c:
        out: list[dict[str, Any]] = []
        for i in range(times):
            out += await c.send(handler_name(HelpState.search), {"form_data": {"q": f"label {i}"}}, path="/help")
        return deltas_text(out)


def _stored(db: Session) -> int:
    db.expire_all()
    return int(db.exec(select(func.count()).select_from(SearchQuery)).one())


@pytest.fixture
def trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def trust(value: str) -> None:
        monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", value)
        reset_settings_cache()

    yield trust
    monkeypatch.undo()
    reset_settings_cache()


def test_behind_the_configured_proxy_each_real_client_has_its_own_allowance(
        db: Session, harness: Any, backend_url: str, trusted_proxies: Any) -> None:
    make_article(db, title="Printing a return label", body="Open the order and choose return.")
    allowance = throttle.HELP_SEARCHES.limit
    # Given the portal behind a proxy on loopback (the test's connections come from it)
    trusted_proxies("127.0.0.1")
    # When one client behind it uses up its allowance (its own forged entry on the left is ignored)
    assert LIMITED in run(_searches(backend_url, "10.9.9.9, 198.51.100.1", allowance + 1))
    assert _stored(db) == allowance
    # Then another client behind the same proxy still searches
    assert LIMITED not in run(_searches(backend_url, "198.51.100.2", 1))
    assert _stored(db) == allowance + 1


def test_a_direct_client_cannot_choose_its_address(db: Session, harness: Any, backend_url: str,
                                                   trusted_proxies: Any) -> None:
    make_article(db, title="Printing a return label", body="Open the order and choose return.")
    allowance = throttle.HELP_SEARCHES.limit
    # Given the portal reached directly (no proxy configured)
    trusted_proxies("")
    # When a client uses up its allowance, then claims to be someone else
    assert LIMITED in run(_searches(backend_url, "198.51.100.3", allowance + 1))
    # Then it is still itself: refused, and nothing more is stored
    assert LIMITED in run(_searches(backend_url, "198.51.100.4", 1))
    assert _stored(db) == allowance


async def _search_from(backend_url: str, origin: str) -> str:
    async with HeaderClient(backend_url, {"Origin": origin}) as c:
        out = await c.send(handler_name(HelpState.search), {"form_data": {"q": "label"}}, path="/help")
        return deltas_text(out)


def test_another_sites_page_cannot_open_the_event_socket(db: Session, harness: Any, backend_url: str) -> None:
    make_article(db, title="Printing a return label", body="Open the order and choose return.")
    # A page of the portal's own origin opens the socket and searches (the positive control)
    assert "Printing a return label" in run(_search_from(backend_url, backend_url))
    # Another site's page is refused at the handshake, before any event
    with pytest.raises(socketio.exceptions.ConnectionError):
        run(_search_from(backend_url, "https://evil.example"))
    assert _stored(db) == 1
