"""The portal in the reader's language (issue 17): a customer whose profile says German or French
signs in and reads the dashboard, an order and an invoice PDF in it; a stranger's browser picks the
language, the menu switches it at once, and the profile keeps a signed-in person's choice.

Expected words come from the catalogs (`tr` in that language), each checked to differ from the
English first, so a missing translation fails here instead of passing as English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from portal.i18n import in_language, tr
from portal.models import ORDER_STATUS_LABELS, Order, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.pdf_tools import pdf_text

pytestmark = pytest.mark.browser

WORDS = ("Home", "Orders", "Order", "Billing", "Invoice", "Main menu", "Account statement", "Amount due",
         "Invoice total", "Unit price", "Sign in", "Email address", "Password")


def words_in(lang: str) -> dict[str, str]:
    with in_language(lang):
        found = {w: tr(w) for w in WORDS}
    for english, translated in found.items():
        assert translated != english, f"{english!r} has no {lang} translation"  # the control
    return found


def _download(page: Any, test_id: str) -> bytes:
    link = page.get_by_test_id(test_id).first
    link.evaluate("e => e.scrollIntoView({block: 'center'})")
    with page.expect_download(timeout=60_000) as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def choose_language(page: Any, code: str) -> None:
    """Choose a language in the header's menu as a person does: the pointer comes to rest on it (it lights up),
    then clicks. Once in CI (PostgreSQL run) the menu stayed open after the click on a language. Radix's select
    ignores the first pointer-up after opening unless it saw the pointer move more than 10px from where the
    menu was opened, which a click arriving before that move is seen would trip; resting on the choice first
    rules that out, as it never arises for a person."""
    page.get_by_test_id("language-menu").click()
    option = page.get_by_test_id(f"language-menu-{code}")
    option.hover()
    expect(option).to_have_attribute("data-highlighted", "")
    option.click()
    expect(page.get_by_role("listbox")).to_have_count(0)


@pytest.mark.parametrize(("email", "lang", "name"), [
    ("lukasz@example.com", "de", "Łukasz Żółć"),
    ("thao@example.com", "fr", "Thảo Nguyễn"),
])
def test_a_customer_reads_the_portal_in_their_language(page: Any, demo: Any, db: Session, email: str, lang: str,
                                                       name: str) -> None:
    w = words_in(lang)
    user = db.exec(select(User).where(User.email == email)).one()
    assert user.locale == lang
    # Given the customer signs in, the dashboard is in their language, <html lang> says so
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", name=w["Home"], exact=True)).to_be_visible()
    nav = page.get_by_role("navigation", name=w["Main menu"])
    expect(nav.get_by_role("link", name="Orders", exact=True)).to_have_count(0)  # no English left beside it
    # When they open an order from the menu, its page and its status are in their language
    nav.get_by_role("link", name=w["Orders"], exact=True).click()
    page.wait_for_url(re.compile(r"/orders/?$"))
    newest = db.exec(select(Order).where(Order.customer_id == user.customer_id)
                     .order_by(col(Order.placed_at).desc())).first()
    assert newest is not None
    with in_language(lang):
        status = tr(ORDER_STATUS_LABELS[newest.status])
    assert status != ORDER_STATUS_LABELS[newest.status]
    page.get_by_role("link", name=newest.number).click()
    page.wait_for_url(re.compile(r"/orders/\d+"))
    expect(page.get_by_role("heading", name=w["Order"], exact=True)).to_be_visible()
    expect(page.get_by_text(status, exact=True).first).to_be_visible()
    # and its history, stored in English by the shop's systems, is worded in their language
    with in_language(lang):
        placed = tr("Order placed")
    assert placed != "Order placed"
    expect(page.get_by_text(placed, exact=True).first).to_be_visible()
    expect(page.get_by_text("Order placed", exact=True)).to_have_count(0)
    # And an invoice, downloaded as a PDF by a click, is written in it, with their name exactly
    nav.get_by_role("link", name=w["Billing"], exact=True).click()
    page.wait_for_url(re.compile(r"/billing/?$"))
    page.get_by_test_id("invoice-row").first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(r"/billing/invoices/\d+"))
    expect(page.get_by_role("heading", name=w["Invoice"], exact=True)).to_be_visible()
    text = pdf_text(_download(page, "invoice-pdf"))
    assert name in text and w["Invoice total"] in text and w["Unit price"] in text
    assert "Invoice total" not in text and "Unit price" not in text  # and not in English
    # So is their statement
    nav.get_by_role("link", name=w["Billing"], exact=True).click()
    page.wait_for_url(re.compile(r"/billing/?$"))
    statement = pdf_text(_download(page, "statement-link"))
    assert name in statement and w["Account statement"] in statement and "Account statement" not in statement


@pytest.mark.parametrize("browser_locale", ["de-DE", "fr-FR"])
def test_a_strangers_browser_picks_the_language_and_the_menu_switches_it(browser: Any, harness: Any, demo: Any,
                                                                         browser_locale: str) -> None:
    lang = browser_locale[:2]
    other = "fr" if lang == "de" else "de"
    w, w2 = words_in(lang), words_in(other)
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), locale=browser_locale)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        # Given a stranger whose browser prefers German (or French) opens the sign-in page
        page.goto("/login")
        page.get_by_test_id("page-ready").wait_for(state="attached")
        expect(page.get_by_test_id("sign-in")).to_have_text(w["Sign in"])
        expect(page.locator("html")).to_have_attribute("lang", lang)
        # When they choose the other language in the menu, the page follows at once, without a reload
        page.evaluate("window.__stillHere = true")
        choose_language(page, other)
        expect(page.get_by_test_id("sign-in")).to_have_text(w2["Sign in"])
        expect(page.locator("html")).to_have_attribute("lang", other)
        assert page.evaluate("window.__stillHere === true")
        # And a message from the server comes in that language too (a refused sign-in)
        page.fill("#email", "nobody@example.com")
        page.fill("#password", "not the password")
        page.get_by_test_id("sign-in").click()
        english = "That email and password do not match an account. Check them and try again."
        with in_language(other):
            refusal = tr(english)
        assert refusal != english
        expect(page.get_by_role("alert")).to_have_text(refusal)
        # And the browser keeps the choice for the next visit
        page.reload()
        page.get_by_test_id("page-ready").wait_for(state="attached")
        expect(page.get_by_test_id("sign-in")).to_have_text(w2["Sign in"])
    finally:
        context.close()


def test_a_signed_in_choice_is_kept_in_the_profile(page: Any, demo: Any, db: Session) -> None:
    w = words_in("de")
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    nav = page.get_by_role("navigation", name="Main menu")
    expect(nav.get_by_role("link", name="Orders", exact=True)).to_be_visible()  # the control: English first
    choose_language(page, "de")
    german = page.get_by_role("navigation", name=w["Main menu"])
    expect(german.get_by_role("link", name=w["Orders"], exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    db.expire_all()
    assert db.exec(select(User).where(User.email == "alice@example.com")).one().locale == "de"
    # Another browser, signed in as her, starts in German
    page.context.clear_cookies()
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    expect(page.get_by_role("navigation", name=w["Main menu"]).get_by_role("link", name=w["Orders"], exact=True)
           ).to_be_visible()


def test_the_help_center_follows_a_language_switch_with_its_categories_and_articles(browser: Any, harness: Any,
                                                                                    demo: Any) -> None:
    # Category names are data, translated in each category's file; articles have translations of their own
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        # Given a stranger reading the help center in English
        page.goto("/help")
        page.get_by_test_id("page-ready").wait_for(state="attached")
        categories = page.get_by_test_id("help-category")
        expect(categories.filter(has_text="Orders & changes")).to_have_count(1)
        # When they switch to German, the categories are named in German, without a reload
        page.evaluate("window.__stillHere = true")
        choose_language(page, "de")
        expect(categories.filter(has_text="Bestellungen & Änderungen")).to_have_count(1)
        expect(categories.filter(has_text="Orders & changes")).to_have_count(0)
        assert page.evaluate("window.__stillHere === true")
        # And a category page and an article read in German too
        categories.filter(has_text="Bestellungen & Änderungen").click()
        expect(page.get_by_test_id("help-category-name")).to_have_text("Bestellungen & Änderungen")
        page.goto("/help/orders/track-your-order")
        page.get_by_test_id("page-ready").wait_for(state="attached")
        german_title = page.get_by_test_id("help-article-title").inner_text()
        assert german_title != "Track your order"
        # When they switch to French on the article, the article itself follows
        choose_language(page, "fr")
        expect(page.get_by_test_id("help-article-title")).to_have_text("Suivre votre commande")
        expect(page.locator("[data-testid=help-article-text]")).to_have_attribute("lang", "fr")
    finally:
        context.close()
