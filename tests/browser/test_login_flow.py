"""A person signs in as a demo customer, sees their own dashboard, signs out, and is sent
back to the login page when they open the dashboard again."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def open_live(page: Any, path: str) -> None:
    """Open a page and wait until it is live. Its forms are in the prerendered page: typed into and
    sent before hydration, one would post the page to itself and the click would be lost (seen
    under load, on the sign-in and the forgotten-password pages)."""
    page.goto(path)
    page.get_by_test_id("page-ready").wait_for(state="attached")


def sign_in(page: Any, email: str, password: str) -> None:
    open_live(page, "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_test_id("sign-in").click()


def test_sign_in_see_dashboard_sign_out(page: Any, demo: Any) -> None:
    # Given a stranger who opens the dashboard
    page.goto("/dashboard")
    # Then they are sent to sign in, and come back afterwards
    page.wait_for_url(re.compile(r"/login\?next=%2Fdashboard|/login\?next=/dashboard"))

    # When they sign in with a wrong password, they are told so and keep what they typed
    page.fill("#email", "alice@example.com")
    page.fill("#password", "not the password")
    page.get_by_test_id("sign-in").click()
    assert "do not match" in page.get_by_role("alert").inner_text()
    assert page.input_value("#email") == "alice@example.com"

    # When they sign in as Alice
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    # Then they see Alice's own orders, tickets and balance
    orders = page.get_by_test_id("recent-orders")
    orders.get_by_test_id("order-row").first.wait_for()
    assert orders.get_by_test_id("order-row").count() == 5
    assert re.search(r"FH-\d+", orders.inner_text())
    assert page.get_by_test_id("open-tickets").get_by_test_id("ticket-row").count() >= 1
    assert re.match(r"€[\d,]+\.\d\d", page.get_by_test_id("balance-due").inner_text())
    assert "Alice" in page.get_by_test_id("user-menu").inner_text()
    # ... and the session cookie is out of reach of scripts
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["portal_session"]["httpOnly"] is True
    assert page.evaluate("document.cookie").find("portal_session") == -1

    # When they open one of their orders
    orders.get_by_role("link").first.click()
    page.get_by_test_id("order-number").wait_for()
    assert page.get_by_test_id("order-number").inner_text().startswith("FH-")

    # When they sign out
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.get_by_text("You have been signed out.").wait_for()

    # Then opening the dashboard again sends them back to the login page
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert page.get_by_test_id("recent-orders").count() == 0


def test_staff_sign_in_lands_on_the_agent_console(page: Any, demo: Any) -> None:
    sign_in(page, "agent@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.get_by_test_id("queue-total").wait_for()
    assert re.match(r"\d+ tickets are waiting", page.get_by_test_id("queue-total").inner_text())


def test_unknown_page_shows_not_found(page: Any, harness: Any) -> None:
    page.goto("/no-such-page")
    page.get_by_text("Page not found").wait_for()


def test_phone_sized_screen_has_a_menu(browser: Any, harness: Any, demo: Any) -> None:
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_role("button", name="Open menu").click()
    page.get_by_role("link", name="Home").last.wait_for()
    context.close()
