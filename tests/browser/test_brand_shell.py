"""The shell shows the brand the running portal is configured with (issue 16, item 7): logo (served
by /api/brand/logo, whatever folder the file is in), name, footer text and support contact, on the
sign-in page and in the signed-in shell. A second brand, Kestrel Supply Co., set in the environment
of the running server, shows and nothing of Fernhill does; the same checks first find Fernhill
under the demo's brand (the positive control).

The name, logo, footer and contact come from the server when the page hydrates (portal.state.brand),
so this runs in the already compiled test app; the accent colour and the favicon link are compiled
into the pages (tests/test_brand.py checks the theme rxconfig.py builds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from portal.models import Role
from tests.browser.test_login_flow import sign_in
from tests.factories import PASSWORD, make_customer, make_staff
from tests.support.brand import KESTREL_RGB, KESTREL_SVG, as_kestrel, colour_pixels

pytestmark = pytest.mark.browser


def _brand_shown(page: Any, *, name: str, footer: str, support: str) -> str:
    """The brand on the page now (after hydration); the logo's address."""
    page.get_by_test_id("page-ready").wait_for(state="attached")
    shown = page.locator("[data-testid=brand-name]:visible").first
    shown.wait_for()
    assert shown.inner_text() == name
    logo = page.locator("[data-testid=brand-logo]:visible").first
    assert logo.get_attribute("alt") == name
    # The browser loaded the image (a broken one has no natural width)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=logo.element_handle())
    foot = page.locator("[data-testid=brand-footer]:visible").first.inner_text()
    assert footer in foot and support in foot, foot
    return str(logo.evaluate("img => img.src"))


def test_the_demo_brand_shows_on_the_sign_in_page(page: Any) -> None:
    # The positive control of the test below: its checks find Fernhill when Fernhill is the brand
    page.goto("/login")
    src = _brand_shown(page, name="Fernhill Outfitters", footer="Chamber of Commerce 70123456",
                       support="support@fernhill.example")
    assert "fernhill" in page.locator("body").inner_text().lower()
    assert "/api/brand/logo?v=" in src
    served = httpx.get(src)
    assert served.headers["content-type"] == "image/svg+xml" and b"Fernhill Outfitters" in served.content


def test_a_second_brand_shows_in_the_sign_in_page_and_the_shell_and_nothing_of_fernhill(
        browser: Any, harness: Any, db: Session, tmp_path: Path) -> None:
    user, _ = make_customer(db, name="Ailsa Grant", email="ailsa@example.com")
    with as_kestrel(tmp_path):
        context = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            # Before signing in
            page.goto("/login")
            src = _brand_shown(page, name="Kestrel Supply Co.", footer="Registered in Scotland SC774411",
                               support="help@kestrel.example")
            assert "+44 131 496 0123" in page.get_by_test_id("brand-footer").first.inner_text()
            assert "fernhill" not in page.locator("body").inner_text().lower()
            # The logo is Kestrel's file, from outside assets/, typed by its content and cacheable
            served = httpx.get(src)
            assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"
            assert served.content == KESTREL_SVG.encode()
            assert "immutable" in served.headers["cache-control"] and served.headers["etag"]
            assert httpx.get(src, headers={"If-None-Match": served.headers["etag"]}).status_code == 304
            # What the person sees: the logo's own colour is on the screen
            assert colour_pixels(page.screenshot(), KESTREL_RGB, tolerance=6) > 100
            favicon = httpx.get(src.split("/api/brand/")[0] + "/api/brand/favicon")
            assert favicon.headers["content-type"] == "image/png"
            assert favicon.content == (tmp_path / "kestrel-icon.png").read_bytes()

            # Signed in: the shell's menu has the brand and, at its foot, the legal line and the contact
            sign_in(page, user.email, PASSWORD)
            page.wait_for_url(lambda url: "/login" not in url)
            _brand_shown(page, name="Kestrel Supply Co.", footer="Registered in Scotland SC774411",
                         support="help@kestrel.example")
            assert page.get_by_role("navigation", name="Main menu").get_by_test_id("brand-footer").is_visible()
            assert "fernhill" not in page.locator("body").inner_text().lower()
        finally:
            context.close()


def test_an_admin_sees_the_brand_in_use(browser: Any, harness: Any, db: Session, tmp_path: Path) -> None:
    admin = make_staff(db, role=Role.ADMIN, email="root@kestrel.example")
    with as_kestrel(tmp_path):
        context = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            sign_in(page, admin.email, PASSWORD)
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto("/admin/brand")
            page.get_by_test_id("page-ready").wait_for(state="attached")
            rows = page.get_by_test_id("brand-setting")
            rows.first.wait_for()
            table = {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").first.inner_text()
                     for i in range(rows.count())}
            assert table["Name"] == "Kestrel Supply Co." and table["VAT number"] == "GB 298 4471 35"
            assert table["Logo"] == f"{tmp_path / 'kestrel-logo.svg'} (SVG)"
            assert table["Order numbers"] == "KS-12345" and table["Accent colour"] == "indigo"
            assert "GB33 BUKB 2020 1555 5555 55" in table["Bank account"]
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=page.get_by_alt_text("Logo").element_handle())
            assert "fernhill" not in page.get_by_test_id("page-content").inner_text().lower()
        finally:
            context.close()
