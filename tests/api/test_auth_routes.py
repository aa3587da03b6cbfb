"""The cookie-setting routes: HttpOnly session cookie, single-use tickets, logout on the server."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from portal.api.app import SecurityHeaders, build_api
from portal.api.common import safe_next
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.settings import get_settings
from tests.factories import make_customer

COOKIE = get_settings().session_cookie_name


def sets_session(response: Any) -> bool:
    return any(v.startswith(f"{COOKIE}=") and not v.startswith(f'{COOKIE}=""')
               for v in response.headers.get_list("set-cookie"))


def client() -> TestClient:
    return TestClient(SecurityHeaders(build_api()), base_url="http://portal.test", follow_redirects=False)


def test_ticket_sets_an_httponly_lax_cookie_once(db: Session) -> None:
    user, _ = make_customer(db)
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    c = client()
    r = c.get("/api/auth/session", params={"ticket": ticket, "next": "/orders/1"})
    assert r.status_code == 303 and r.headers["location"] == "/orders/1"
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in set_cookie and "samesite=lax" in set_cookie.lower() and "Path=/" in set_cookie
    # Served over plain HTTP (development) the cookie cannot be Secure; over HTTPS it is.
    assert "Secure" not in set_cookie
    raw = r.cookies[COOKIE]
    assert auth.resolve_session(db, raw_token=raw) is not None

    again = client().get("/api/auth/session", params={"ticket": ticket})
    assert again.status_code == 303 and "error=expired" in again.headers["location"]
    assert not sets_session(again)


def test_cookie_is_secure_over_https(db: Session) -> None:
    user, _ = make_customer(db)
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    c = TestClient(build_api(), base_url="https://portal.test", follow_redirects=False)
    r = c.get("/api/auth/session", params={"ticket": ticket})
    assert "Secure" in r.headers["set-cookie"]


def test_open_redirects_are_refused() -> None:
    for bad in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""):
        assert safe_next(bad, "/dashboard") == "/dashboard"
    assert safe_next("/orders/5?tab=lines") == "/orders/5?tab=lines"


def test_logout_revokes_the_session_and_clears_the_cookie(db: Session) -> None:
    user, _ = make_customer(db)
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password",
                              mfa_verified=False)
    db.commit()
    c = client()
    c.cookies.set(COOKIE, new.raw_token)
    r = c.post("/api/auth/logout")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert f'{COOKIE}=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert auth.resolve_session(db, raw_token=new.raw_token) is None


def test_security_headers_and_health(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.live.push import MemoryRegistry, runtime

    # This in-process client runs no lifespan of its own; a server this test process also runs (the
    # browser tests', in the same pytest worker) may have put its Redis registry there, bound to
    # that server's event loop.
    monkeypatch.setattr(runtime, "registry", MemoryRegistry())
    r = client().get("/api/health")
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert isinstance(body["live_tabs"], int)  # outside production only
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_a_ticket_only_works_in_the_browser_that_signed_in(db: Session) -> None:
    # Login CSRF: a ticket obtained by an attacker cannot be planted in a victim's browser.
    from portal.domain.auth import BINDING_COOKIE

    user, _ = make_customer(db)
    ticket = auth.issue_login_ticket(db, user=user, binding="the-browsers-secret")
    db.commit()
    planted = client().get("/api/auth/session", params={"ticket": ticket})
    assert ("error=expired" in planted.headers["location"] and "set-cookie" not in planted.headers) or \
        COOKIE not in planted.headers.get("set-cookie", "").split("=")[0]
    ticket2 = auth.issue_login_ticket(db, user=user, binding="the-browsers-secret")
    db.commit()
    c = client()
    c.cookies.set(BINDING_COOKIE, "the-browsers-secret")
    r = c.get("/api/auth/session", params={"ticket": ticket2})
    assert r.status_code == 303 and r.cookies.get(COOKIE)
