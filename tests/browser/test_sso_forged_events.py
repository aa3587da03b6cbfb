"""Forged websocket events against the SSO handlers: customer B cannot list or remove
customer A's single sign-on links, whatever id B sends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent, SsoIdentity
from portal.state.sso import SsoAccountState, SsoLoginState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.factories_sso import link
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


async def send(backend_url: str, cookie: str | None, events: list[tuple[str, dict[str, Any]]],
               path: str = "/account/security") -> list[dict[str, Any]]:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out: list[dict[str, Any]] = []
        for name, payload in events:
            out += await c.send(name, payload, path=path)
        return out


def test_customer_b_cannot_see_or_remove_customer_a_links(db: Session, harness: Any, backend_url: str) -> None:
    alice, _ = make_customer(db, name="Alice")
    bob, _ = make_customer(db, name="Bob")
    a_link = link(db, alice, subject="alice-secret-sub", email="alice-private@idp.test")
    b_cookie = cookie_for(db, bob)

    # Bob loads his security page and forges removals of Alice's link, with odd ids too
    updates = run(send(backend_url, b_cookie, [
        (handler_name(SsoAccountState.load), {}),
        (handler_name(SsoAccountState.unlink), {"identity_id": a_link.id}),
        (handler_name(SsoAccountState.unlink), {"identity_id": str(a_link.id)}),
        (handler_name(SsoAccountState.unlink), {"identity_id": -1}),
        (handler_name(SsoAccountState.unlink), {"identity_id": True}),
    ]))
    text = deltas_text(updates)
    assert "alice-private@idp.test" not in text and "alice-secret-sub" not in text
    assert "could not find" in text  # the domain's NOT_FOUND, worded by the UI
    db.expire_all()
    assert [i.id for i in db.exec(select(SsoIdentity)).all()] == [a_link.id]
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "auth.sso_unlinked")).all() == []

    # The same load as Alice does show her link: the test would see a leak if there were one
    own = deltas_text(run(send(backend_url, cookie_for(db, alice), [(handler_name(SsoAccountState.load), {})])))
    assert "alice-private@idp.test" in own


def test_a_stranger_cannot_use_the_account_handlers(db: Session, harness: Any, backend_url: str) -> None:
    alice, _ = make_customer(db)
    a_link = link(db, alice, email="alice-private@idp.test")
    updates = run(send(backend_url, None, [
        (handler_name(SsoAccountState.load), {}),
        (handler_name(SsoAccountState.unlink), {"identity_id": a_link.id}),
        (handler_name(SsoAccountState.link), {}),
    ]))
    assert any(r.startswith("/login") for r in redirects(updates))
    assert "alice-private@idp.test" not in deltas_text(updates)
    db.expire_all()
    assert db.get(SsoIdentity, a_link.id) is not None


def test_the_sso_button_does_nothing_when_sso_is_off(db: Session, harness: Any, backend_url: str) -> None:
    updates = run(send(backend_url, None, [(handler_name(SsoLoginState.on_load), {}),
                                            (handler_name(SsoLoginState.start), {})], path="/login"))
    assert "/api/auth/sso/start" not in deltas_text(updates)
