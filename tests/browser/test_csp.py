"""Does Reflex's compiled app need the CSP's 'unsafe-eval' (issue 14)? Pages are served with the
portal's policy minus 'unsafe-eval' and Chromium reports what it blocks: page loads and ordinary
events need nothing, the rx.call_script events (sign-in's navigation) do. portal/api/app.py keeps
'unsafe-eval' for exactly that; when Reflex stops using eval() this test fails, and it can go."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from portal.api.app import _SECURITY_HEADERS
from portal.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

POLICY = dict(_SECURITY_HEADERS)[b"content-security-policy"].decode()
WITHOUT_EVAL = POLICY.replace(" 'unsafe-eval'", "")
WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
         "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


@pytest.fixture
def page(browser: Any, one_port_url: str) -> Iterator[Any]:
    """A page whose documents Playwright serves (to set their policy): Chromium then counts them
    as public, and its local-network checks would refuse their websocket to the loopback backend.
    Pages and API routes come from one origin, as after `make run` ('self' covers the brand's logo
    route, which the harness's separate frontend port would make another origin)."""
    from tests.browser.conftest import CHROMIUM_ARGS

    own = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=[
        *CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessChecks"])
    context = own.new_context(base_url=one_port_url)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    # A document still being fetched through the route when the test ends would raise in whatever
    # Playwright call comes next (another test's): the routes go first, their errors ignored.
    pg.unroute_all(behavior="ignoreErrors")
    own.close()


def _serve_with(page: Any, policy: str) -> None:
    def with_policy(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": policy})

    page.route(lambda url: "/_event" not in url, with_policy)
    page.add_init_script(WATCH)


def _blocked(page: Any) -> list[str]:
    return list(page.evaluate("() => window.__csp"))


def test_pages_run_without_unsafe_eval_only_call_script_needs_it(page: Any, demo: Any) -> None:
    assert "'unsafe-eval'" in POLICY and "'unsafe-eval'" not in WITHOUT_EVAL
    _serve_with(page, WITHOUT_EVAL)
    # Pages load, hydrate and answer ordinary events without it
    page.goto("/help")
    page.get_by_role("heading", name="How can we help?").wait_for()
    page.goto("/login")
    page.fill("#email", "alice@example.com")
    page.fill("#password", DEMO_PASSWORD)
    assert _blocked(page) == []
    # Signing in answers with an rx.call_script (a full-page navigation): that is eval(), blocked
    page.get_by_test_id("sign-in").click()
    page.wait_for_function("() => window.__csp.length > 0")
    assert all(re.match(r"script-src.* eval$", v) for v in _blocked(page)), _blocked(page)
    assert "/login" in page.url  # and so the person is stuck on the sign-in page


def test_with_the_portals_policy_signing_in_works(page: Any, demo: Any) -> None:
    # The positive control: the same steps under the portal's real policy
    _serve_with(page, POLICY)
    page.goto("/login")
    page.fill("#email", "alice@example.com")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    assert _blocked(page) == []
