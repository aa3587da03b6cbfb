"""Live updates are announced without taking the focus (issue 17, WCAG 4.1.3): a new carrier scan
on the open shipment page and a new notification in the header reach a polite live region while
the keyboard focus stays where the person put it; chat and assistant messages arrive in a log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal.db import session_scope
from portal.domain.notifications import notify_customer
from portal.models import User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_keyboard import tab_to
from tests.browser.test_login_flow import sign_in
from tests.browser.test_shipment_timeline import carrier_scans, shipment_of

pytestmark = pytest.mark.browser

_FOCUSED = "e => e === document.activeElement"


def test_a_new_checkpoint_is_announced_and_the_focus_stays(page: Any, demo: Any, db: Session,
                                                           backend_url: str) -> None:
    shipment = shipment_of(db, "alice@example.com", "InTransit")
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto(f"/shipments/{shipment.id}")
    page.get_by_test_id("checkpoint").first.wait_for()
    region = page.get_by_test_id("live-announce")
    assert region.get_attribute("aria-live") == "polite" and region.get_attribute("role") == "status"
    expect(region).to_have_text("")  # the page's first load announces nothing
    # Given the keyboard focus is on a link of the page
    back = page.get_by_role("link", name=re.compile("All shipments"))
    tab_to(page, back)
    assert back.evaluate(_FOCUSED)  # the control: the check below can see the focus
    # When the carrier scans the parcel
    carrier_scans(backend_url, shipment)
    # Then the scan is announced, and the focus has not moved
    expect(region).to_contain_text("Departed sorting centre", timeout=15_000)
    expect(page.get_by_test_id("checkpoint").first).to_contain_text("Departed sorting centre")
    assert back.evaluate(_FOCUSED)


def test_a_new_notification_is_announced_and_the_focus_stays(page: Any, demo: Any, db: Session) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    region = page.get_by_test_id("notification-announce")
    expect(region).to_have_text("")
    bell = page.get_by_test_id("bell")
    tab_to(page, bell)
    user = db.exec(select(User).where(User.email == "alice@example.com")).one()
    assert user.customer_id is not None
    with session_scope() as s:
        notify_customer(s, customer_id=user.customer_id, kind="shipping", title="Your parcel is at the depot",
                        email=False)
    expect(region).to_contain_text("Your parcel is at the depot", timeout=15_000)
    assert bell.evaluate(_FOCUSED)
    expect(page.get_by_role("dialog")).to_have_count(0)  # nothing opened by itself


def test_chat_and_assistant_messages_arrive_in_a_log(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("page-ready").wait_for(state="attached")
    page.get_by_test_id("chat-open").click()
    chat_log = page.get_by_role("log", name="Chat messages")
    expect(chat_log).to_have_attribute("aria-live", "polite")
    page.get_by_test_id("assistant-button").click()
    page.get_by_test_id("assistant-input").fill("where is my order")
    page.get_by_test_id("assistant-send").click()
    assistant_log = page.get_by_role("log", name="Conversation with the assistant")
    expect(assistant_log).to_contain_text("where is my order")
    expect(assistant_log).to_have_attribute("aria-live", "polite")
