"""The main journeys with the keyboard alone (issue 17): Tab and Shift+Tab to move, Enter and
Space to act, typing into what has focus, Escape to close. No click, no fill, no programmatic
focus: what the test cannot reach by Tab, a keyboard user cannot reach either. Each control
reached shows where the focus is (an outline or ring)."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal.domain import mfa
from portal.domain.audit import RequestInfo
from portal.models import User
from portal.seed.demo import DEMO_PASSWORD
from tests.factories import principal_for

pytestmark = pytest.mark.browser

_FOCUSED = "e => e === document.activeElement || e.contains(document.activeElement)"
# The focused control, or the frame Radix draws around it (a text field's ring is on its root)
_RING = """e => { let el = document.activeElement;
    for (let i = 0; el && i < 3; i++, el = el.parentElement) {
        const s = getComputedStyle(el);
        if ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none'))
            return true;
    }
    return false; }"""


def tab_to(page: Any, target: Any, *, limit: int = 150, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `target` has the focus; fail if the keyboard never gets there."""
    target.wait_for()
    for _ in range(limit):
        if target.evaluate(_FOCUSED):
            assert target.evaluate(_RING), f"no visible focus on {target}"
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"Tab never reached {target}")


def press(page: Any, target: Any, *, back: bool = False) -> None:
    """Tab to `target` and press Enter on it."""
    tab_to(page, target, back=back)
    page.keyboard.press("Enter")


def menu(page: Any, name: str) -> None:
    """Open a page from the menu by keyboard, and wait for it."""
    press(page, page.get_by_role("navigation").get_by_role("link", name=name, exact=True).first)
    page.wait_for_url(re.compile(rf"/{name.lower()}/?$"))


def type_into(page: Any, target: Any, text: str) -> None:
    tab_to(page, target)
    page.keyboard.type(text)


def _mfa_for(db: Session, email: str) -> str:
    user = db.exec(select(User).where(User.email == email)).one()
    enrollment = mfa.begin_enrollment(db, principal=principal_for(user))
    # Enrolled with the previous step's code (accepted, the clock may lag), so that this step's code
    # is still unused when the person signs in (a code works once)
    mfa.confirm_enrollment(db, principal=principal_for(user), code=pyotp.TOTP(enrollment.secret).at(time.time() - 30),
                           request=RequestInfo(ip_address="127.0.0.1", user_agent="test"))
    db.commit()
    return enrollment.secret


def _sign_in(page: Any, email: str, secret: str | None = None) -> None:
    page.goto("/login")
    type_into(page, page.locator("#email"), email)
    type_into(page, page.locator("#password"), DEMO_PASSWORD)
    page.keyboard.press("Enter")
    if secret:
        code = page.locator("#code")
        code.wait_for()
        type_into(page, code, pyotp.TOTP(secret).now())
        page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_test_id("page-ready").wait_for(state="attached")


def test_sign_in_with_mfa_open_an_order_and_start_a_return_by_keyboard(page: Any, demo: Any, db: Session) -> None:
    secret = _mfa_for(db, "alice@example.com")
    _sign_in(page, "alice@example.com", secret)
    # The menu's Orders, then the delivered orders, then the first one
    menu(page, "Orders")
    status = page.get_by_test_id("status-filter")
    tab_to(page, status)
    status.press("d")  # a native select takes the first letter of an option (Delivered)
    expect(status).to_have_value("delivered")
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('[data-testid=orders-table] [data-testid=order-row]')];"
        " return rows.length > 0 && rows.every(r => r.innerText.includes('Delivered')); }")
    first = page.get_by_test_id("orders-table").get_by_test_id("order-row").first.get_by_role("link")
    number = first.inner_text()
    press(page, first)
    page.get_by_test_id("order-number").get_by_text(number).wait_for()
    # Start a return: one item, a reason, confirm
    press(page, page.get_by_test_id("action-return"))
    qty = page.get_by_test_id("return-qty").first
    tab_to(page, qty)
    page.keyboard.press("Control+a")
    page.keyboard.type("1")
    reason = page.get_by_test_id("return-reason")
    tab_to(page, reason)
    reason.press("t")  # "Too small"
    page.get_by_test_id("return-quote").wait_for()
    press(page, page.get_by_test_id("confirm-return"))
    page.get_by_test_id("order-notice").get_by_text("is started").wait_for()
    # The label is reachable too
    tab_to(page, page.get_by_test_id("return-label").first)


def test_open_a_ticket_and_reply_by_keyboard(page: Any, demo: Any) -> None:
    _sign_in(page, "alice@example.com")
    menu(page, "Support")
    press(page, page.get_by_test_id("support-ticket-row").first.get_by_role("link").first)
    page.wait_for_url(re.compile(r"/tickets/\d+$"))
    page.get_by_test_id("thread").wait_for()
    type_into(page, page.locator("textarea").first, "Typed with the keyboard only.")
    press(page, page.get_by_test_id("send-reply"))
    page.get_by_test_id("thread").get_by_text("Typed with the keyboard only.").wait_for()


def test_pay_an_invoice_by_keyboard(page: Any, demo: Any) -> None:
    _sign_in(page, "ben@example.com")
    menu(page, "Billing")
    press(page, page.get_by_test_id("due-row").first.get_by_role("link").first)
    press(page, page.get_by_test_id("pay-now"))
    # The processor's page (here the bundled simulator) by keyboard too
    page.wait_for_url(re.compile(r"/_simulator/pay/"))
    type_into(page, page.locator("#card"), "4242 4242 4242 4242")
    type_into(page, page.locator("#exp"), "12/34")
    type_into(page, page.locator("#cvc"), "123")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/billing/invoices/\d+"))
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
