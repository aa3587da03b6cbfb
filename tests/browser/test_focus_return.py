"""Focus is given back (issue 17, WCAG 2.4.3): a dialog or panel that closes returns the keyboard
focus to what opened it, and the check fails without the page's focus script (the control)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_keyboard import press, tab_to
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser

_HAS_FOCUS = "e => e === document.activeElement"


def _open_and_close_sign_dialog(page: Any) -> Any:
    opener = page.get_by_test_id("doc-sign").first
    press(page, opener)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    return opener


@pytest.mark.parametrize("with_script", [True, False], ids=["focus-script", "control-without-it"])
def test_a_closed_dialog_gives_the_focus_back_to_its_button(page: Any, demo: Any, with_script: bool) -> None:
    if not with_script:
        page.route(re.compile(r"/a11y\.js"), lambda route: route.abort())
    sign_in(page, "chloe@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/documents")
    page.get_by_test_id("page-ready").wait_for(state="attached")
    opener = _open_and_close_sign_dialog(page)
    if with_script:
        expect(opener).to_be_focused()
        # And the keyboard goes on from there: Enter opens the dialog again.
        page.keyboard.press("Enter")
        expect(page.get_by_role("dialog")).to_be_visible()
    else:  # Radix drops the focus of a dialog opened by state, not by its own trigger
        page.wait_for_function("() => document.activeElement === document.body")
        assert not opener.evaluate(_HAS_FOCUS)


def test_closing_the_chat_gives_the_focus_back_to_its_button(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    chat = page.get_by_test_id("chat-open")
    press(page, chat)
    close = page.get_by_role("button", name="Close chat")
    tab_to(page, close)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("chat-panel")).to_have_count(0)
    expect(chat).to_be_focused()


def test_a_refused_field_is_described_by_the_message_that_names_it(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/profile")
    page.get_by_test_id("page-ready").wait_for(state="attached")
    phone, company = page.locator("#p-phone"), page.locator("#p-company")
    phone.wait_for()
    expect(phone).to_have_attribute("aria-invalid", "false")
    phone.fill("call me maybe")
    page.get_by_test_id("save-details").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("phone number")
    # The refused field says it is invalid, and a screen reader reads the message with it
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(re.compile(r"phone number"))
    # The control: a field that was not refused is neither marked nor described by it
    expect(company).to_have_attribute("aria-invalid", "false")
    expect(company).not_to_have_accessible_description(re.compile(r"phone number"))
    assert phone.input_value() == "call me maybe"  # nothing typed is lost
