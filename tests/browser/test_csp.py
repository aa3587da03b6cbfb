"""The portal's Content-Security-Policy has no 'unsafe-eval' (issue 14), and Reflex's compiled app
runs under it: pages load and hydrate, and what the server asks of the page (the navigation after
a sign-in with MFA, the sign-out POST, secrets shown once) goes through the page's mailbox
(portal.components.mailbox, assets/portal-actions.js), never eval(). Chromium reports anything the
policy blocks as a `securitypolicyviolation` event: the page records them, and a control shows that
an eval() in the page is blocked and recorded. The mailbox refuses anything but http(s) URLs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from portal.api.app import _SECURITY_HEADERS
from portal.components.mailbox import MAILBOX
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser

POLICY = dict(_SECURITY_HEADERS)[b"content-security-policy"].decode()
# Each document records what its policy blocked; a full page load starts a new record, so each
# violation is also handed to the test (__cspReport, a Playwright binding) as it happens.
WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', e => {"
         " const seen = e.violatedDirective + ' ' + e.blockedURI + ' ' + location.pathname;"
         " window.__csp.push(seen); if (window.__cspReport) window.__cspReport(seen); });")


@pytest.fixture
def page(browser: Any, one_port_url: str) -> Iterator[Any]:
    """Pages and API routes from one origin, as after `make run`: the documents carry the
    portal's own headers (SecurityHeaders), the policy included."""
    context = browser.new_context(base_url=one_port_url)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture
def violations(page: Any) -> list[str]:
    seen: list[str] = []
    page.expose_binding("__cspReport", lambda _source, v: seen.append(v))
    page.on("console", lambda m: seen.append(f"console: {m.text}") if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH)
    return seen


def _recorded(page: Any) -> list[str]:
    return list(page.evaluate("() => window.__csp"))


def _load(page: Any, path: str, *, ready: bool = True) -> None:
    response = page.goto(path)
    assert response is not None and response.headers.get("content-security-policy") == POLICY, path
    if ready:
        page.get_by_test_id("page-ready").wait_for(state="attached")


def test_the_policy_has_no_unsafe_eval() -> None:
    script_src = re.search(r"script-src ([^;]*)", POLICY)
    assert script_src and "'unsafe-eval'" not in POLICY and "'wasm-unsafe-eval'" not in POLICY
    assert script_src.group(1).split() == ["'self'", "'unsafe-inline'"]


def test_an_eval_in_the_page_is_blocked_and_recorded(page: Any, violations: list[str]) -> None:
    # The control: the listener does see what the policy blocks (so its silence below means something)
    _load(page, "/login")
    # (later, not inside Playwright's evaluate, which Chromium lets eval() regardless)
    page.evaluate("""() => { setTimeout(() => {
        try { eval('window.__evalRan = true') } catch (e) { window.__evalError = e.name } }, 0); }""")
    page.wait_for_function("() => window.__csp.length > 0")
    assert page.evaluate("() => [window.__evalRan, window.__evalError]") == [None, "EvalError"]
    assert all(re.match(r"script-src.* eval /login/?$", v) for v in _recorded(page)), _recorded(page)
    assert any(re.match(r"script-src.* eval /login/?$", v) for v in violations), violations


def test_pages_sign_in_with_mfa_sign_out_and_a_reveal_raise_no_violation(
        page: Any, demo: Any, violations: list[str]) -> None:
    # Pages for strangers load and hydrate
    _load(page, "/help", ready=False)
    page.get_by_role("heading", name="How can we help?").wait_for()
    for path in ("/forgot", "/register", "/login"):
        _load(page, path)
        assert _recorded(page) == [], path
    # Signing in (the navigation to the session route goes through the mailbox)
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    # Walking the signed-in pages, client-side and by full loads
    for path in ("/orders", "/billing", "/shipments", "/documents", "/support", "/timeline", "/account/profile"):
        _load(page, path)
        assert _recorded(page) == [], path
    # Turning on two-factor authentication: the seed and the QR code are revealed, then concealed
    # with the recovery codes revealed, then concealed by the page itself
    _load(page, "/account/security")
    page.get_by_test_id("start-mfa").click()
    expect(page.get_by_test_id("totp-secret")).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_test_id("confirm-code-input").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("confirm-mfa").click()
    page.get_by_test_id("recovery-codes").wait_for(state="visible")
    assert secret not in page.content()
    page.get_by_role("button", name="I have saved them").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_hidden()
    assert _recorded(page) == []
    # Signing out (a form POST through the mailbox)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/login"))
    # Signing in with the password and a code (the navigation with the ticket's binding cookie)
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.get_by_test_id("verify-code").wait_for()
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # the enrolment's time step is spent
    page.get_by_test_id("verify-code").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    page.get_by_test_id("user-menu").wait_for()
    assert _recorded(page) == [] and violations == []


def _post(page: Any, message: dict[str, Any]) -> None:
    """What Reflex's client does with a set_value event for the mailbox (state.js, _set_value:
    `refs[ref].current.value = value`), forged in the page."""
    page.evaluate("([id, text]) => { document.getElementById(id).value = text; }", [MAILBOX, json.dumps(message)])


def test_a_forged_message_cannot_run_a_javascript_url(page: Any, violations: list[str]) -> None:
    _load(page, "/login")
    page.evaluate("() => { window.__kept = 'this document'; }")
    for message in ({"go": "javascript:window.__pwned = 1"}, {"go": " JavaScript:window.__pwned = 1"},
                    {"post": "javascript:window.__pwned = 1"}, {"go": "data:text/html,<p>pwned</p>"},
                    {"go": "/help", "binding": "x; path=/; domain=evil"}):
        _post(page, message)
        page.wait_for_timeout(300)
        assert page.evaluate("() => [window.__pwned, window.__kept]") == [None, "this document"], message
        assert "/login" in page.url, message
    # The element keeps nothing
    assert page.evaluate("(id) => document.getElementById(id).value", MAILBOX) == ""
    # The control: a same-origin URL does navigate (a full page load)
    _post(page, {"go": "/help"})
    page.wait_for_url(re.compile(r"/help/?$"))
    assert page.evaluate("() => window.__kept") is None
    assert violations == []
