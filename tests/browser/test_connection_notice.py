"""A page that loses its connection to the server says so in the reader's language, and the notice
goes once the connection is back (instead of Reflex's toast naming the socket's URL in English)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.i18n import in_language, tr
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser

NOTICE = "No connection to the server. Trying again…"


def test_a_lost_connection_is_told_in_the_readers_language_and_clears_when_it_is_back(page: Any,
                                                                                      demo: Any) -> None:
    with in_language("de"):
        german = tr(NOTICE)
    assert german != NOTICE
    # The page's socket goes through the test, which can cut it and then answer new ones as a server
    # that refuses them (an Engine.IO handshake, then a Socket.IO connect error), so the client keeps
    # failing to connect until the link is up again.
    link: dict[str, Any] = {"up": True, "open": [], "refused": 0}

    def refuse(ws: Any, message: str | bytes) -> None:
        # "40/_event,{...}": a Socket.IO CONNECT to the page's namespace, refused in the same namespace
        if isinstance(message, str) and message.startswith("40"):
            namespace = message[2:].split(",", 1)[0] + "," if message[2:3] == "/" else ""
            link["refused"] += 1
            ws.send(f'44{namespace}{{"message":"unreachable"}}')

    def through(ws: Any) -> None:
        if not link["up"]:
            ws.on_message(lambda message: refuse(ws, message))
            ws.send('0{"sid":"offline","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
            return
        link["open"].append(ws.connect_to_server())

    page.route_web_socket(re.compile(r"/_event"), through)
    sign_in(page, "lukasz@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    notice = page.get_by_test_id("connection-notice")
    expect(notice).to_have_count(0)  # connected: no notice
    assert link["open"], "the page's socket did not go through the route"

    # When the connection drops (the server's side closes) and cannot be made again
    link["up"] = False
    for server in link["open"]:
        server.close()
    # Then the page says so, in German, politely (a status), without the socket's address
    expect(notice).to_be_visible()
    assert link["refused"] >= 1
    expect(notice).to_have_text(german)
    expect(notice).to_have_attribute("role", "status")
    assert "/_event" not in page.locator("body").inner_text()
    # When the network is back, the client's next try connects and the notice goes by itself
    link["up"] = True
    expect(notice).to_have_count(0, timeout=60_000)
    expect(page.get_by_test_id("user-menu")).to_contain_text("Łukasz")
