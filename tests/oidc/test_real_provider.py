"""The portal's SSO routes against a real, independently written provider on loopback.
A small user agent (httpx) plays the browser at the provider, through devInteractions'
login and consent forms; the portal side runs in process (Starlette TestClient)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from portal.api import sso_routes
from portal.api.app import SecurityHeaders, build_api
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.models import AuditEvent, AuthSession, SsoIdentity
from portal.settings import get_settings
from tests.factories import make_customer
from tests.oidc.conftest import CALLBACK, PORTAL
from tests.oidc.provider import ACCOUNT_EMAIL, ACCOUNT_SUB, RunningProvider, portal_sso_env


@pytest.fixture
def use_provider() -> Iterator[object]:
    """Switch the portal to a provider for one test; the OIDC client cache is per config."""
    stack: list[object] = []

    def use(p: RunningProvider) -> None:
        while stack:
            stack.pop().__exit__(None, None, None)  # type: ignore[attr-defined]
        cm = portal_sso_env(p, public_url=PORTAL)
        cm.__enter__()
        stack.append(cm)

    yield use
    while stack:
        stack.pop().__exit__(None, None, None)  # type: ignore[attr-defined]


def portal_browser() -> TestClient:
    return TestClient(SecurityHeaders(build_api()), base_url=PORTAL, follow_redirects=False)


def at_provider(auth_url: str, *, login: str = ACCOUNT_SUB) -> str:
    """Follow the provider's screens as a person would: sign in, consent; return the URL
    the provider finally sends the browser to (our callback)."""
    with httpx.Client(follow_redirects=False, timeout=10) as ua:
        url = auth_url
        for _ in range(15):
            if url.startswith(CALLBACK):
                return url
            r = ua.get(url)
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                continue
            assert r.status_code == 200, r.text[:500]
            action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', r.text).group(1))  # type: ignore[union-attr]
            prompt = re.search(r'name="prompt" value="(\w+)"', r.text).group(1)  # type: ignore[union-attr]
            form = {"prompt": prompt} | ({"login": login, "password": "anything"} if prompt == "login" else {})
            r = ua.post(urljoin(url, action), data=form)
            assert r.is_redirect, r.text[:500]
            url = urljoin(url, r.headers["location"])
    raise AssertionError("the provider never sent the browser back")


def sso_round_trip(c: TestClient, **start_params: str) -> tuple[str, httpx.Response]:
    start = c.get("/api/auth/sso/start", params=start_params)
    assert start.status_code == 303, start.text
    back = at_provider(start.headers["location"])
    return back, c.get(back.removeprefix(PORTAL))


def signed_in_browser(db: Session, user: object) -> TestClient:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password",  # type: ignore[arg-type]
                              mfa_verified=False)
    db.commit()
    c = portal_browser()
    c.cookies.set(get_settings().session_cookie_name, new.raw_token, domain="portal.test")
    return c


def test_the_provider_requires_pkce_and_knows_our_client(provider_a: RunningProvider) -> None:
    # The fixture's provider really is strict: an authorization request without PKCE is refused.
    md = httpx.get(provider_a.discovery_url, timeout=5).json()
    assert md["issuer"] == provider_a.issuer and "S256" in md["code_challenge_methods_supported"]
    r = httpx.get(md["authorization_endpoint"], params={
        "client_id": provider_a.client_id, "response_type": "code", "scope": "openid",
        "redirect_uri": CALLBACK, "state": "s", "nonce": "n"}, timeout=5, follow_redirects=False)
    assert r.is_redirect and "error=invalid_request" in r.headers["location"]
    assert "requires+PKCE" in r.headers["location"]


def test_an_unlinked_identity_is_refused(db: Session, provider_a: RunningProvider, use_provider: object) -> None:
    # Given a customer whose email even equals the provider's email for the person
    make_customer(db, email=ACCOUNT_EMAIL)
    use_provider(provider_a)  # type: ignore[operator]
    # When the person signs in at the provider and comes back
    _, r = sso_round_trip(portal_browser())
    # Then they are told the identity is not linked, and nobody is signed in
    assert r.headers["location"] == "/login?error=sso_unlinked"
    db.expire_all()
    assert db.exec(select(AuthSession)).all() == [] and db.exec(select(SsoIdentity)).all() == []


def test_link_then_sign_in_and_the_same_sub_at_another_issuer_is_someone_else(
        db: Session, provider_a: RunningProvider, provider_b: RunningProvider, use_provider: object) -> None:
    alice, _ = make_customer(db)
    use_provider(provider_a)  # type: ignore[operator]
    # Given Alice, signed in with her password, links provider A
    _, r = sso_round_trip(signed_in_browser(db, alice), link="1")
    assert r.headers["location"] == "/account/security?sso=linked"
    db.expire_all()
    ident = db.exec(select(SsoIdentity)).one()
    assert (ident.user_id, ident.issuer, ident.subject) == (alice.id, provider_a.issuer, ACCOUNT_SUB)
    # The provider gives the email through UserInfo only; it labels the link
    assert ident.email == ACCOUNT_EMAIL

    # When she signs in with provider A from a fresh browser, she gets a session
    c = portal_browser()
    _, r = sso_round_trip(c)
    assert r.headers["location"] == "/dashboard"
    principal = auth.resolve_session(db, raw_token=r.cookies[get_settings().session_cookie_name])
    assert principal is not None and principal.user_id == alice.id

    # But the same sub at provider B (another issuer) is a different identity: refused
    use_provider(provider_b)  # type: ignore[operator]
    _, r = sso_round_trip(portal_browser())
    assert r.headers["location"] == "/login?error=sso_unlinked"
    db.expire_all()
    logins = db.exec(select(AuditEvent).where(AuditEvent.action.in_(  # type: ignore[attr-defined]
        ["auth.login", "auth.login_failed"])).order_by(col(AuditEvent.id))).all()
    assert [(e.action, e.data.get("method")) for e in logins] == [("auth.login", "sso"),
                                                                  ("auth.login_failed", "sso")]


def test_a_replayed_code_is_refused_by_the_real_provider(db: Session, provider_a: RunningProvider,
                                                         use_provider: object) -> None:
    alice, _ = make_customer(db)
    db.add(SsoIdentity(user_id=alice.id or 0, issuer=provider_a.issuer, subject=ACCOUNT_SUB))
    db.commit()
    use_provider(provider_a)  # type: ignore[operator]
    c = portal_browser()
    back, r = sso_round_trip(c)
    assert r.headers["location"] == "/dashboard"
    # The same callback again (same browser): the flow cookie is gone
    again = c.get(back.removeprefix(PORTAL))
    assert again.headers["location"] == "/login?error=sso_failed"
    # The code in a new flow of this browser: the state does not match
    c.get("/api/auth/sso/start")
    assert c.get(back.removeprefix(PORTAL)).headers["location"] == "/login?error=sso_failed"
    # And the provider itself refuses a second exchange of that code
    code = re.search(r"code=([^&]+)", back).group(1)  # type: ignore[union-attr]
    client = sso_routes._client_for(get_settings())
    from portal.integrations.oidc import OidcError

    with pytest.raises(OidcError) as exc:
        client.exchange_code(code=code, code_verifier="x" * 64)
    assert exc.value.reason == "token_rejected" and exc.value.detail == "invalid_grant"
    db.expire_all()
    assert len(db.exec(select(AuthSession)).all()) == 1
