"""An admin configures an offer rule; a customer sees why they got it and applies it; the
admin's insights show what happened, with a CSV export."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.models import AnalyticsEvent, CustomerOffer, OfferRule, OutboundEvent
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_rule_to_offer_to_applied_to_insights(browser: Any, harness: Any, page: Any, demo: Any,
                                              db: Session) -> None:
    # Given the admin adds a rule for customers in Great Britain
    sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.goto("/admin/offers")
    page.get_by_test_id("rule-row").first.wait_for()
    page.get_by_test_id("rule-kind").click()
    page.get_by_role("option", name="Region").click()
    page.fill("input[name='title']", "Browser-made UK offer")
    page.fill("input[name='countries']", "GB")
    page.fill("input[name='reward_cents']", "250")
    page.get_by_test_id("save-rule").click()
    page.get_by_test_id("rule-row").filter(has_text="Browser-made UK offer").wait_for()

    # When Alice (in GB) opens her offers in another browser
    ctx = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    try:
        alice = ctx.new_page()
        alice.set_default_timeout(20_000)
        sign_in(alice, "alice@example.com", DEMO_PASSWORD)
        alice.wait_for_url(re.compile(r"/dashboard"))
        alice.goto("/offers")
        card = alice.get_by_test_id("offer-card").filter(has_text="Browser-made UK offer")
        card.wait_for()
        # Then she sees why she got it, and applies it
        assert "GB" in card.get_by_test_id("offer-reason").inner_text()
        card.get_by_test_id("offer-apply").click()
        card.wait_for(state="detached")
    finally:
        ctx.close()
    with session_scope() as s:
        rule = s.exec(select(OfferRule).where(OfferRule.title == "Browser-made UK offer")).one()
        offer = s.exec(select(CustomerOffer).where(CustomerOffer.rule_id == rule.id)).one()
        assert offer.status == "applied"
        assert s.exec(select(OutboundEvent).where(OutboundEvent.kind == "offer.applied")).first() is not None
    # Pages were recorded by their route only (written in batches about once a second)
    deadline = time.monotonic() + 20
    paths: set[str] = set()
    while "/offers" not in paths and time.monotonic() < deadline:
        with session_scope() as s:
            paths = set(s.exec(select(AnalyticsEvent.path)).all())
        time.sleep(0.05)  # the poll's pace; the wait ends when the row is there
    assert "/offers" in paths and all(p.startswith("/") for p in paths)

    # And the admin's insights show page views and the offer's take-up, with a CSV per report
    page.goto("/admin/insights")
    page.get_by_test_id("report-top_pages").get_by_test_id("report-row").filter(has_text="/offers").first.wait_for()
    href = page.get_by_test_id("csv-offer_takeup").get_attribute("href")
    assert href is not None and "/api/admin/insights/offer_takeup.csv" in href
    csv_text = page.request.get(href).text()
    assert "Browser-made UK offer,100" in csv_text
