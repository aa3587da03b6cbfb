"""Two-factor authentication, password reset and session control, as a person does them."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from portal.models import AuthSession, MailMessage, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import open_live, sign_in

pytestmark = pytest.mark.browser


def test_turn_on_mfa_then_sign_in_with_a_code_and_with_a_recovery_code(page: Any, demo: Any, db: Session) -> None:
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    open_live(page, "/account/security")
    page.get_by_test_id("start-mfa").click()
    expect(page.get_by_test_id("totp-secret")).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    page.get_by_test_id("confirm-code-input").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("confirm-mfa").click()
    page.get_by_test_id("recovery-codes").wait_for(state="visible")
    codes = page.get_by_test_id("recovery-codes").inner_text().split()
    assert len(codes) == 10
    page.get_by_test_id("mfa-on").wait_for()

    # Sign out, then in again: the password alone is not enough any more.
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/login"))
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.get_by_text("Two-factor authentication").wait_for()
    page.fill("#code", "000000")
    page.get_by_test_id("verify-code").click()
    assert "did not match" in page.get_by_role("alert").inner_text()
    # The enrolment code's time step is spent; the next step's code is within the allowed drift.
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_test_id("verify-code").click()
    page.wait_for_url(re.compile(r"/dashboard"))

    # And with a recovery code, once.
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(re.compile(r"/login"))
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.get_by_test_id("toggle-recovery").click()
    page.fill("#code", codes[0])
    page.get_by_test_id("verify-code").click()
    page.wait_for_url(re.compile(r"/dashboard"))
    user = db.exec(select(User).where(User.email == "ben@example.com")).one()
    db.refresh(user)
    assert user.mfa_enabled


def test_forgotten_password_reset_by_email_then_sign_in(page: Any, demo: Any, db: Session) -> None:
    open_live(page, "/forgot")
    page.fill("#email", "chloe@example.com")
    page.get_by_test_id("send-reset").click()
    page.get_by_test_id("reset-sent").wait_for()
    msg = db.exec(select(MailMessage).where(MailMessage.to_address == "chloe@example.com")
                  .order_by(col(MailMessage.id).desc())).first()
    assert msg is not None
    token = msg.body_text.split("/reset?token=")[1].split()[0]
    open_live(page, f"/reset?token={token}")
    page.fill("#password", "short")
    page.fill("#confirm", "short")
    page.get_by_test_id("save-password").click()
    assert "at least 12 characters" in page.get_by_role("alert").inner_text()
    page.fill("#password", "les montagnes sont belles en hiver")
    page.fill("#confirm", "les montagnes sont belles en hiver")
    page.get_by_test_id("save-password").click()
    # No automatic sign-in: back to the login page with a notice.
    page.wait_for_url(re.compile(r"/login\?reset=1"))
    page.get_by_text("Your password was changed").wait_for()
    sign_in(page, "chloe@example.com", "les montagnes sont belles en hiver")
    page.wait_for_url(re.compile(r"/dashboard"))
    # The link works once.
    page.goto(f"/reset?token={token}")
    page.get_by_text("This link has expired").wait_for()


def test_end_another_session_from_the_security_page(browser: Any, harness: Any, page: Any, demo: Any,
                                                   db: Session) -> None:
    other = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    laptop = other.new_page()
    laptop.set_default_timeout(20_000)
    sign_in(laptop, "alice@example.com", DEMO_PASSWORD)
    laptop.wait_for_url(re.compile(r"/dashboard"))
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/security")
    rows = page.get_by_test_id("session-row")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    page.get_by_test_id("end-others").click()
    page.get_by_text("Signed out 1 other session").wait_for()
    # The other browser's next action sends it to the login page.
    laptop.goto("/dashboard")
    laptop.wait_for_url(re.compile(r"/login"))
    assert db.exec(select(AuthSession).where(col(AuthSession.revoked_at).is_not(None))).first() is not None
    other.close()
