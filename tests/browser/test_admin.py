"""Admins browse the audit trail, require MFA for staff, and change roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_admin_sees_the_audit_trail_and_requires_mfa_for_staff(browser: Any, harness: Any, page: Any, demo: Any,
                                                               db: Session) -> None:
    sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.goto("/admin/audit")
    page.get_by_test_id("audit-row").first.wait_for()
    assert "auth.login" in page.get_by_test_id("audit-row").first.inner_text()

    page.get_by_test_id("staff-mfa-switch").click()
    page.wait_for_timeout(500)
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "policy.staff_mfa_required")).first() is not None

    # An agent without MFA now lands on the security page, whatever they open.
    ctx = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    agent = ctx.new_page()
    agent.set_default_timeout(20_000)
    sign_in(agent, "agent@fernhill-outfitters.com", DEMO_PASSWORD)
    agent.wait_for_url(re.compile(r"/account/security"))
    agent.get_by_text("Your role requires two-factor authentication").wait_for()
    agent.goto("/agent")
    agent.wait_for_url(re.compile(r"/account/security"))
    ctx.close()


def test_customers_cannot_open_admin_pages(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/admin/audit")
    # The guard refuses the page's handlers and sends her home; no audit row ever renders.
    page.wait_for_url(re.compile(r"/dashboard"))
    assert page.get_by_test_id("audit-row").count() == 0
