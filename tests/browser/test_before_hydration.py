"""Before a page hydrates it is the prerendered HTML: a form there is a plain HTML form, and the
browser itself submits it. It must never put what was typed (a password) into a URL."""

from __future__ import annotations

from typing import Any

import pytest

from portal.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_a_sign_in_submitted_before_the_page_is_live_keeps_the_password_out_of_urls(
        browser: Any, harness: Any, demo: Any) -> None:
    # Given the sign-in page as the browser first gets it, before any script runs
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        sent: list[Any] = []
        page.on("request", lambda r: sent.append(r))
        page.goto("/login")
        assert page.locator("form #password").count() == 1
        # When the person types and presses Enter
        page.fill("#email", "alice@example.com")
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_request(lambda r: r.is_navigation_request() and r is not sent[0]) as submitted:
            page.press("#password", "Enter")
        # Then the browser did submit the form (the positive control: the password is in the body)
        request = submitted.value
        assert request.method == "POST"
        assert "alice%40example.com" in (request.post_data or "")
        # And no URL the browser asked for carries it
        assert all(DEMO_PASSWORD not in r.url and "password=" not in r.url for r in sent)
    finally:
        context.close()
