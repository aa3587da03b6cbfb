"""The personal home in the browser: the arrangement follows the person to another browser,
a notification arrives live and is marked read, an address is edited on the profile."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.domain.notifications import notify_customer
from portal.models import Address, Customer, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def _customer(db: Session, email: str) -> Customer:
    user = db.exec(select(User).where(User.email == email)).one()
    customer = db.get(Customer, user.customer_id)
    assert customer is not None
    return customer


def _widget_order(page: Any) -> list[str]:
    return page.get_by_test_id("dashboard-grid").evaluate(
        "g => [...g.children].map(e => e.getAttribute('data-testid'))")


def test_the_dashboard_arrangement_appears_in_a_second_browser(page: Any, browser: Any, harness: Any,
                                                               demo: Any) -> None:
    # Given Alice on her home, which starts from the default arrangement
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("widget-recent_orders").wait_for()
    assert page.get_by_test_id("widget-help").count() == 0

    # When she arranges it: adds help suggestions, removes offers, moves the balance up top
    page.get_by_test_id("arrange").click()
    page.get_by_test_id("add-help").click()
    page.get_by_test_id("widget-help").wait_for()
    page.get_by_test_id("widget-offers").get_by_test_id("widget-remove").click()
    page.get_by_test_id("widget-offers").wait_for(state="detached")
    page.get_by_test_id("widget-balance").get_by_test_id("widget-up").click()
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='dashboard-grid']\").firstElementChild"
        ".getAttribute('data-testid') === 'widget-balance'")
    expected = _widget_order(page)
    assert expected[0] == "widget-balance" and "widget-help" in expected and "widget-offers" not in expected

    # Then in another browser (a new context: another device) she finds the same arrangement
    other = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    try:
        page2 = other.new_page()
        page2.set_default_timeout(20_000)
        sign_in(page2, "alice@example.com", DEMO_PASSWORD)
        page2.wait_for_url(re.compile(r"/dashboard"))
        page2.get_by_test_id("widget-help").wait_for()
        assert _widget_order(page2) == expected

        # And a change made there rearranges the first browser live
        page2.get_by_test_id("arrange").click()
        page2.get_by_test_id("widget-help").get_by_test_id("widget-remove").click()
        page.get_by_test_id("widget-help").wait_for(state="detached", timeout=10_000)
    finally:
        other.close()


def test_a_notification_arrives_live_and_is_marked_read(page: Any, demo: Any, db: Session) -> None:
    # Given Alice is on her home with the bell in the header
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("bell").wait_for()
    page.get_by_test_id("mark-all-read").or_(page.get_by_test_id("bell")).first.wait_for()
    before = page.get_by_test_id("unread-count").inner_text() if page.get_by_test_id("unread-count").count() else "0"

    # When the business tells her something
    alice = _customer(db, "alice@example.com")
    with session_scope() as s:
        notify_customer(s, customer_id=alice.id or 0, kind="support", title="Live reply from Fernhill",
                        link="/dashboard")
    # Then the unread count goes up without a reload
    page.wait_for_function(
        "(before) => { const b = document.querySelector(\"[data-testid='unread-count']\");"
        " return b && b.innerText !== before; }", arg=before, timeout=10_000)

    # And she opens the bell, sees it, and marks it read
    page.get_by_test_id("bell").click()
    item = page.get_by_test_id("bell-panel").get_by_test_id("notification-item").filter(
        has_text="Live reply from Fernhill")
    item.wait_for()
    assert item.get_attribute("data-read") == "false"
    item.get_by_test_id("notification-mark-read").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='notification-item']\")]"
        ".some(e => e.innerText.includes('Live reply from Fernhill') && e.dataset.read === 'true')")
    with session_scope() as s:
        from portal.models import Notification

        note = s.exec(select(Notification).where(Notification.title == "Live reply from Fernhill")).one()
        assert note.read_at is not None


def test_profile_address_edit(page: Any, demo: Any, db: Session) -> None:
    # Given Alice on her profile
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/profile")
    row = page.get_by_test_id("address-row").first
    row.wait_for()
    # When she edits her address with a wrong postal code
    row.get_by_test_id("address-edit").click()
    form = page.get_by_test_id("address-form")
    form.wait_for()
    page.fill("#p-line1", "12 New Street")
    page.fill("#p-postal_code", "<bad>")
    page.get_by_test_id("save-address").click()
    # Then she is told why, and what she typed is still there
    assert "postal code" in form.get_by_role("alert").inner_text()
    assert page.input_value("#p-line1") == "12 New Street"
    # When she corrects it
    page.fill("#p-postal_code", "LS2 7EW")
    page.get_by_test_id("save-address").click()
    # Then the list shows the new address and the database has it
    page.get_by_test_id("address-lines").filter(has_text="12 New Street").wait_for()
    alice = _customer(db, "alice@example.com")
    with session_scope() as s:
        lines = [a.line1 for a in s.exec(select(Address).where(Address.customer_id == alice.id))]
    assert "12 New Street" in lines


def test_data_export_download_holds_own_orders_and_nothing_of_another_customer(page: Any, demo: Any,
                                                                               db: Session) -> None:
    import json
    import zipfile

    from portal.models import Order

    alice, ben = _customer(db, "alice@example.com"), _customer(db, "ben@example.com")
    alice_orders = {o.number for o in db.exec(select(Order).where(Order.customer_id == alice.id))}
    ben_orders = {o.number for o in db.exec(select(Order).where(Order.customer_id == ben.id))}
    # Given Alice on "Your data"
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/privacy")
    # When she downloads everything
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("export-data").click()
    path = info.value.path()
    # Then the archive holds her orders and none of Ben's
    with zipfile.ZipFile(path) as zf:
        numbers = {o["number"] for o in json.loads(zf.read("orders.json"))}
        everything = "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    assert numbers == alice_orders
    assert not any(n in everything for n in ben_orders) and "ben@example.com" not in everything


def test_profile_add_and_remove_an_address(page: Any, demo: Any) -> None:
    # Given Alice on her profile
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/profile")
    page.get_by_test_id("address-row").first.wait_for()
    before = page.get_by_test_id("address-row").count()
    # When she adds an office address
    page.get_by_test_id("add-address").click()
    for field, value in (("label", "Office"), ("name", "Alice Martin"), ("line1", "5 Quay Street"),
                         ("city", "Bristol"), ("postal_code", "BS1 4DJ"), ("country", "gb")):
        page.fill(f"#p-{field}", value)
    page.get_by_test_id("save-address").click()
    row = page.get_by_test_id("address-row").filter(has_text="5 Quay Street")
    row.wait_for()
    assert "GB" in row.inner_text()
    # And removes it again, confirming
    row.get_by_test_id("address-delete").click()
    page.get_by_test_id("address-delete-confirm").click()
    row.wait_for(state="detached")
    assert page.get_by_test_id("address-row").count() == before
