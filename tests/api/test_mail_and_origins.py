"""Mail really goes out over SMTP; cross-origin websockets and posts are refused."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from portal.api.app import OriginGuard, SocketsDirect, origin_allowed
from portal.domain import account, auth
from portal.domain.audit import RequestInfo
from portal.jobs.mail import send_pending
from portal.settings import reset_settings_cache
from tests.factories import make_customer
from tests.support.production import PRODUCTION_ENV
from tests.support.smtp import Inbox

REQ = RequestInfo(ip_address="192.0.2.1")


def test_password_reset_mail_is_sent_over_smtp_and_its_link_works(db: Session, smtp_inbox: Inbox) -> None:
    make_customer(db, email="ivy@example.com")
    account.request_password_reset(db, email="ivy@example.com", request=REQ)
    db.commit()
    assert send_pending() == 1
    [msg] = smtp_inbox.to("ivy@example.com")
    assert "Reset your" in msg["Subject"]
    body = msg.get_content()
    link = next(w for w in body.split() if "/reset?token=" in w)
    assert link.startswith("http://localhost:3000/reset?token=")
    account.complete_password_reset(db, token=link.split("token=")[1], new_password="ivy's new long passphrase",
                                    request=REQ)
    db.commit()
    assert auth.authenticate(db, email="ivy@example.com", password="ivy's new long passphrase", request=REQ)


def _app() -> OriginGuard:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return OriginGuard(Starlette(routes=[Route("/x", ok, methods=["GET", "POST"]), WebSocketRoute("/_event/", ws)]))


def test_cross_origin_posts_and_websockets_are_refused() -> None:
    c = TestClient(_app(), base_url="http://portal.test")
    assert c.post("/x", headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post("/x", headers={"Origin": "http://portal.test"}).status_code == 200
    assert c.post("/x").status_code == 200  # no Origin: not a browser (webhooks, API clients)
    assert c.get("/x", headers={"Origin": "https://evil.example"}).status_code == 200  # reads are harmless
    with pytest.raises(WebSocketDisconnect), c.websocket_connect(
            "/_event/", headers={"Origin": "https://evil.example"}) as s:
        s.receive_text()
    with c.websocket_connect("ws://portal.test/_event/", headers={"Origin": "http://portal.test"}) as s:
        assert s.receive_text() == "hello"


def test_sockets_go_straight_to_reflex_under_the_same_origin_and_address_rules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, object]] = []

    async def ws(websocket: WebSocket) -> None:
        seen.append(("sockets", websocket.client.host if websocket.client else None))
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    async def http_ok(_request: object) -> PlainTextResponse:
        seen.append(("http", None))
        return PlainTextResponse("ok")

    async def layers_ws(websocket: WebSocket) -> None:  # the HTTP-only layers: a socket must not get here
        seen.append(("layers", None))
        await websocket.close()

    layers = Starlette(routes=[Route("/x", http_ok), WebSocketRoute("/_event/", layers_ws)])
    c = TestClient(SocketsDirect(layers, sockets=Starlette(routes=[WebSocketRoute("/_event/", ws)])),
                   base_url="http://portal.test")
    # HTTP goes through the layers as before
    assert c.get("/x").text == "ok" and seen == [("http", None)]
    # A socket from our own page goes straight to Reflex's backend
    with c.websocket_connect("ws://portal.test/_event/", headers={"Origin": "http://portal.test"}) as s:
        assert s.receive_text() == "hello"
    assert seen[-1] == ("sockets", "testclient")
    # Another site's page cannot open one
    with pytest.raises(WebSocketDisconnect), c.websocket_connect(
            "/_event/", headers={"Origin": "https://evil.example"}) as s:
        s.receive_text()
    assert len(seen) == 2
    # Behind a trusted proxy the socket carries the real client's address (the throttles' key)
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "127.0.0.1")
    reset_settings_cache()
    try:
        proxied = TestClient(SocketsDirect(layers, sockets=Starlette(routes=[WebSocketRoute("/_event/", ws)])),
                             base_url="http://portal.test", client=("127.0.0.1", 5000))
        forwarded = {"Origin": "http://portal.test", "X-Forwarded-For": "198.51.100.7"}
        with proxied.websocket_connect("ws://portal.test/_event/", headers=forwarded) as s:
            assert s.receive_text() == "hello"
        assert seen[-1] == ("sockets", "198.51.100.7")
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert ("layers", None) not in seen


def test_production_allows_only_configured_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORTAL_PUBLIC_URL", "https://help.shop.example")
    reset_settings_cache()
    try:
        assert origin_allowed("https://help.shop.example", host="10.0.0.5:3000", scheme="http")
        assert not origin_allowed("http://localhost:5173", host="help.shop.example", scheme="https")
        assert not origin_allowed("null", host="help.shop.example", scheme="https")
    finally:
        monkeypatch.undo()
        reset_settings_cache()
