"""Single sign-on in the browser, against a real OpenID provider (npm `oidc-provider`) on
loopback: a customer links it from the security page, signs out, and signs in with it;
an identity nobody linked gets no session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import open_live, sign_in
from tests.oidc.provider import ACCOUNT_EMAIL, ACCOUNT_SUB, RunningProvider, portal_sso_env, run_provider

pytestmark = pytest.mark.browser

PROVIDER_NAME = "Fernhill ID"


@pytest.fixture(scope="module")
def sso_provider(backend_url: str) -> Iterator[RunningProvider]:
    # The harness serves our API on backend_url, so that is where the provider sends people
    # back to. The portal reads settings at request time: no rebuild is needed.
    with run_provider(redirect_uris=[f"{backend_url}/api/auth/sso/callback"]) as provider, \
            portal_sso_env(provider, public_url=backend_url, display_name=PROVIDER_NAME):
        yield provider


@pytest.fixture
def sso_page(page: Any, sso_provider: RunningProvider) -> Any:
    # Only loopback: the provider's dev screens reference a web font we must not fetch.
    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", only_loopback)
    return page


def at_provider_sign_in_and_consent(page: Any, provider: RunningProvider, login: str = ACCOUNT_SUB) -> None:
    """The provider's devInteractions screens: any login (it becomes the `sub`), then consent."""
    page.wait_for_url(re.compile("^" + re.escape(provider.issuer) + "/interaction/"))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "whatever the provider accepts")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_link_sso_sign_out_then_sign_in_with_sso(sso_page: Any, demo: Any, sso_provider: RunningProvider) -> None:
    page = sso_page
    # Given Alice, signed in with her password, on her security page
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/security")
    card = page.get_by_test_id("sso-card")
    card.get_by_text("No single sign-on is linked").wait_for()

    # When she links single sign-on and passes the provider's screens
    card.get_by_test_id("sso-link").click()
    at_provider_sign_in_and_consent(page, sso_provider)

    # Then she is back on her security page with the link listed
    page.wait_for_url(re.compile(r"/account/security/?\?sso=linked"))
    card = page.get_by_test_id("sso-card")
    card.get_by_text("Single sign-on is now linked").wait_for()
    assert card.get_by_test_id("sso-identity").count() == 1
    row = card.get_by_test_id("sso-identity").inner_text()
    assert sso_provider.issuer in row and ACCOUNT_EMAIL in row

    # When she signs out, and her session at the provider ends too (so she meets its screens again)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.context.clear_cookies()

    # And signs in with the SSO button
    open_live(page, "/login")
    page.get_by_test_id("sso-sign-in").click()
    at_provider_sign_in_and_consent(page, sso_provider)

    # Then she lands on her own dashboard, with an HttpOnly session cookie
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("recent-orders").get_by_test_id("order-row").first.wait_for()
    assert "Alice" in page.get_by_test_id("user-menu").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["portal_session"]["httpOnly"] is True
    # ... and the one-time flow cookie is gone
    assert "portal_sso_flow" not in cookies


def test_an_unlinked_identity_gets_no_session(sso_page: Any, demo: Any, sso_provider: RunningProvider) -> None:
    page = sso_page
    # Given a person nobody linked, who uses the SSO button
    page.goto("/login")
    button = page.get_by_test_id("sso-sign-in")
    assert PROVIDER_NAME in button.inner_text()
    button.click()
    at_provider_sign_in_and_consent(page, sso_provider)
    # Then they are back at the login page, told why, and not signed in
    page.wait_for_url(re.compile(r"/login/?\?error=sso_unlinked"))
    page.get_by_role("alert").get_by_text("not linked").wait_for()
    assert "portal_session" not in {c["name"] for c in page.context.cookies()}
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/login\?next="))


def test_sso_does_not_get_around_two_factor_authentication(sso_page: Any, demo: Any,
                                                           sso_provider: RunningProvider) -> None:
    import time

    import pyotp
    from sqlmodel import select

    from portal.db import session_scope
    from portal.domain import mfa
    from portal.domain.audit import RequestInfo
    from portal.models import AuthSession, SsoIdentity, User
    from tests.factories import principal_for

    # Given Alice with two-factor authentication and a linked SSO identity
    with session_scope() as db:
        alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
        enrollment = mfa.begin_enrollment(db, principal=principal_for(alice))
        mfa.confirm_enrollment(db, principal=principal_for(alice), code=pyotp.TOTP(enrollment.secret).now(),
                               request=RequestInfo())
        db.add(SsoIdentity(user_id=alice.id or 0, issuer=sso_provider.issuer, subject=ACCOUNT_SUB))
    page = sso_page
    # When she signs in with SSO
    open_live(page, "/login")
    page.get_by_test_id("sso-sign-in").click()
    at_provider_sign_in_and_consent(page, sso_provider)
    # Then the portal asks for her code before anything else, and no session exists yet
    page.get_by_test_id("verify-code").wait_for()
    assert "portal_session" not in {c["name"] for c in page.context.cookies()}
    page.fill("#code", pyotp.TOTP(enrollment.secret).at(time.time() + 30))
    page.get_by_test_id("verify-code").click()
    # And with it she reaches her dashboard on a session that SSO and the code made together
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("recent-orders").wait_for()
    with session_scope() as db:
        rows = db.exec(select(AuthSession).where(AuthSession.user_id == alice.id)).all()
        assert [(s.auth_method, s.mfa_verified) for s in rows] == [("sso", True)]
