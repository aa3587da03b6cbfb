"""Forged websocket events: a client that sends whatever it likes gets nothing it does not own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.settings import get_settings
from portal.state.dashboard import DashboardState
from portal.state.order_detail import OrderDetailState
from portal.state.staff import AgentConsoleState as StaffHomeState
from tests.factories import make_customer, make_order, make_staff
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


def cookie_for(db: Session, user: Any) -> str:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    return f"{get_settings().session_cookie_name}={new.raw_token}"


async def send_one(backend_url: str, cookie: str | None, name: str, path: str) -> list[dict[str, Any]]:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        return await c.send(name, path=path)


def test_a_stranger_gets_no_data_and_is_sent_to_sign_in(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    order = make_order(db, ca)
    for name, path in ((handler_name(DashboardState.load), "/dashboard"),
                       (handler_name(OrderDetailState.load), f"/orders/{order.id}")):
        updates = run(send_one(backend_url, None, name, path))
        assert any(r.startswith("/login") for r in redirects(updates)), updates
        assert order.number not in deltas_text(updates)


def test_customer_b_cannot_read_customer_a_order_by_forging_its_id(db: Session, harness: Any,
                                                                      backend_url: str) -> None:
    _, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_order = make_order(db, ca, lines=(("Alice's secret boots", 1, 18900),))
    b_order = make_order(db, cb, lines=(("Bob's tent", 1, 24900),))
    b_cookie = cookie_for(db, ub)
    name = handler_name(OrderDetailState.load)

    forged = run(send_one(backend_url, b_cookie, name, f"/orders/{a_order.id}"))
    text = deltas_text(forged)
    assert a_order.number not in text and "secret boots" not in text
    assert "could not find" in text

    # The same call for Bob's own order does return it: the test can see a leak if there were one.
    own = deltas_text(run(send_one(backend_url, b_cookie, name, f"/orders/{b_order.id}")))
    assert b_order.number in own and "Bob's tent" in own


def test_dashboard_shows_only_the_callers_orders(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_order, b_order = make_order(db, ca), make_order(db, cb)
    text = deltas_text(run(send_one(backend_url, cookie_for(db, ub), handler_name(DashboardState.load),
                                    "/dashboard")))
    assert b_order.number in text and a_order.number not in text


def test_a_customer_cannot_call_staff_handlers(db: Session, harness: Any, backend_url: str) -> None:
    ua, _ = make_customer(db)
    make_staff(db)
    updates = run(send_one(backend_url, cookie_for(db, ua), handler_name(StaffHomeState.load), "/agent"))
    assert redirects(updates) == ["/"]
    console = StaffHomeState.get_full_name()
    assert not any(console in (u.get("delta") or {}) for u in updates), updates
    # Positive control: the same event from an agent does load the console.
    staff_updates = run(send_one(backend_url, cookie_for(db, make_staff(db, email="agent2@example.com")),
                                 handler_name(StaffHomeState.load), "/agent"))
    assert any(console in (u.get("delta") or {}) for u in staff_updates), staff_updates


def test_staff_cannot_call_customer_handlers(db: Session, harness: Any, backend_url: str) -> None:
    agent = make_staff(db)
    updates = run(send_one(backend_url, cookie_for(db, agent), handler_name(DashboardState.load), "/dashboard"))
    assert redirects(updates) == ["/"]


def test_a_revoked_session_cookie_is_worthless(db: Session, harness: Any, backend_url: str) -> None:
    ua, ca = make_customer(db)
    order = make_order(db, ca)
    cookie = cookie_for(db, ua)
    principal = auth.resolve_session(db, raw_token=cookie.split("=", 1)[1])
    assert principal is not None
    auth.end_session(db, principal=principal, request=RequestInfo())
    db.commit()
    updates = run(send_one(backend_url, cookie, handler_name(DashboardState.load), "/dashboard"))
    assert any(r.startswith("/login") for r in redirects(updates))
    assert order.number not in deltas_text(updates)


def test_nul_bytes_in_forged_input_are_dropped_before_any_handler(db: Session, harness: Any,
                                                                   backend_url: str) -> None:
    # PostgreSQL text cannot hold NUL; the guard strips it from every event's arguments.
    from portal.state.session import LoginState

    make_customer(db, email="nul@example.com")
    updates = run(send_one_payload(backend_url, handler_name(LoginState.submit),
                                   {"form_data": {"email": "nul\x00@example.com", "password": "wrong\x00password"}}))
    assert "do not match" in deltas_text(updates)


async def send_one_payload(backend_url: str, name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    async with ReflexClient(backend_url) as c:
        return await c.send(name, payload, path="/login")
