"""The portal in the reader's language (issue 17): the menu switches it, the profile keeps it, a
stranger's browser picks it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_switch_to_german_and_back(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    nav = page.get_by_role("navigation", name="Main menu")
    expect(nav.get_by_role("link", name="Orders", exact=True)).to_be_visible()
    page.get_by_test_id("language-menu").click()
    page.get_by_test_id("language-de").click()
    expect(page.get_by_role("link", name="Bestellungen", exact=True).first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.reload()
    expect(page.get_by_role("link", name="Bestellungen", exact=True).first).to_be_visible()
