"""The customer's timeline in the browser (several kinds, filter, search, show more, a carrier's
checkpoint arriving live), and "Get help with this" from a late parcel: the pre-filled ticket,
the agent's customer panel, and a forged reference to someone else's parcel that fills nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from portal.db import session_scope, utcnow
from portal.domain.notifications import notify_customer
from portal.models import Ticket
from portal.seed.demo import AGENT_EMAIL, DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.browser.test_shipment_timeline import carrier_scans, shipment_of
from tests.browser.test_support_flow import _second_page
from tests.factories import PASSWORD, make_customer
from tests.factories_tracking import make_shipment

pytestmark = pytest.mark.browser

KINDS_JS = "() => [...document.querySelectorAll('[data-testid=timeline-entry]')].map(e => e.dataset.kind)"
TEXTS_JS = "() => [...document.querySelectorAll('[data-testid=timeline-entry]')].map(e => e.innerText)"


def _choose_kind(page: Any, label: str) -> None:
    page.get_by_test_id("timeline-kind").click()
    page.get_by_role("option", name=label).click()


def test_timeline_shows_every_kind_filters_searches_and_updates_live(page: Any, demo: Any, db: Session,
                                                                     backend_url: str) -> None:
    # Given Alice, signed in, opens her timeline from the navigation
    shipment = shipment_of(db, "alice@example.com", "InTransit")
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    # (her home can show the latest of it too: the "Recent activity" widget)
    page.get_by_test_id("arrange").click()
    page.get_by_test_id("add-timeline").click()
    page.get_by_test_id("widget-timeline").get_by_test_id("timeline-entry").first.get_by_text("Signed in").wait_for()
    page.get_by_role("navigation").get_by_role("link", name="Timeline").click()
    page.wait_for_url(re.compile(r"/timeline$"))
    entries = page.get_by_test_id("timeline-entry")
    entries.first.wait_for()
    # Then she sees entries of several kinds, newest first: her sign-in a moment ago on top
    assert entries.first.inner_text().startswith("Signed in")
    shown = entries.count()
    page.get_by_test_id("timeline-more").click()
    page.wait_for_function(f"() => document.querySelectorAll('[data-testid=timeline-entry]').length > {shown}")
    assert {"orders", "shipments", "billing", "support", "security"} <= set(page.evaluate(KINDS_JS))
    # ... each one linking to its page
    href = entries.nth(1).get_by_role("link").get_attribute("href")
    assert href is not None and re.match(r"^/(orders|shipments|billing/invoices|tickets|documents)/?", href)

    # When she shows only her account's security events: only those (her sign-in among them)
    _choose_kind(page, "Account security")
    page.wait_for_function(f"() => {{ const k = ({KINDS_JS})(); return k.length > 0 && "
                           "k.every(x => x === 'security'); }")
    assert "Signed in" in page.get_by_test_id("timeline").inner_text()

    # When she searches for one parcel among shipments: only its entries
    _choose_kind(page, "Shipments")
    page.fill("#timeline-search", shipment.tracking_number)
    number = shipment.tracking_number
    page.wait_for_function(f"() => {{ const t = ({TEXTS_JS})(); return t.length > 0 && "
                           f"t.every(x => x.includes('{number}')); }}")
    before = entries.count()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # And the carrier scans that parcel while the page is open (a signed webhook to the portal)
    carrier_scans(backend_url, shipment)

    # Then the new checkpoint appears on her timeline without a reload
    page.get_by_test_id("timeline").get_by_text("Departed sorting centre").wait_for(timeout=10_000)
    assert entries.count() == before + 1
    assert navigations == []


def test_get_help_with_a_late_parcel_prefills_the_ticket_and_the_agent_sees_the_customer(
        page: Any, browser: Any, harness: Any, demo: Any, db: Session) -> None:
    # Given Dana's parcel, promised three days ago and still on its way, and Erin's parcel
    user, customer = make_customer(db, name="Dana Late")
    promised = utcnow() - timedelta(days=3)
    mine = make_shipment(db, customer, original_expected_delivery=promised, expected_delivery_end=promised)
    _, other = make_customer(db, name="Erin Else")
    theirs = make_shipment(db, other)
    subject = f"Parcel DHL {mine.tracking_number} is 3 days late"
    sign_in(page, user.email, PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))

    # When she opens her parcel's page, help is offered before she asks (and the chat knows what about)
    page.goto(f"/shipments/{mine.id}")
    page.get_by_test_id("advice-title").get_by_text("Running 3 days late").wait_for()
    page.get_by_test_id("chat-open").click()
    page.get_by_test_id("chat-about").get_by_text(subject).wait_for()
    page.get_by_test_id("chat-open").click()

    # ... and she takes it: the ticket form is filled in from her records
    page.get_by_test_id("advice-help").click()
    page.wait_for_url(re.compile(rf"/support/new\?about=shipment:{mine.id}$"))
    page.wait_for_function("s => document.querySelector('#ticket-subject')?.value === s", arg=subject)
    body = page.input_value("#ticket-body")
    assert f"Tracking: DHL {mine.tracking_number}" in body and "Last scan: Seeded scan 1 (Venlo, NL)" in body
    assert page.get_by_test_id("ticket-category").inner_text() == "Shipping"
    assert page.get_by_test_id("ticket-priority").inner_text() == "High"
    page.get_by_test_id("ticket-context").get_by_text(f"Shipment {mine.tracking_number}").wait_for()
    # ... with the help articles for a late parcel first
    first = page.get_by_test_id("suggestion").first
    first.get_by_text("My order is taking longer than expected").wait_for()

    # When she sends it, the ticket is hers, about that parcel, as pre-filled
    page.get_by_test_id("submit-ticket").click()
    page.wait_for_url(re.compile(r"/tickets/\d+"))
    ticket = db.get(Ticket, int(page.url.rstrip("/").rsplit("/", 1)[-1]))
    assert ticket is not None
    assert (ticket.subject, ticket.category, ticket.priority, ticket.context_type, ticket.context_id) == (
        subject, "shipping", "high", "shipment", mine.id)

    # Then the agent's ticket view shows the customer panel, about that parcel
    ctx, agent = _second_page(browser, harness)
    try:
        sign_in(agent, AGENT_EMAIL, DEMO_PASSWORD)
        agent.wait_for_url(re.compile(r"/agent"))
        agent.goto(f"/agent/tickets/{ticket.id}")
        panel = agent.get_by_test_id("ticket-customer-context")
        panel.get_by_test_id("ctx-customer").get_by_text(re.compile("Dana Late")).wait_for()
        panel.get_by_test_id("ctx-about").get_by_text(f"Shipment {mine.tracking_number}").wait_for()
        assert mine.tracking_number in panel.inner_text()
    finally:
        ctx.close()

    # The parcel's notification offers the same help (the tracking sets help_link, tests/domain/test_tracking.py)
    with session_scope() as s:
        notify_customer(s, customer_id=customer.id or 0, kind="shipping", title="Your order is delayed",
                        link=f"/shipments/{mine.id}", help_link=f"/support/new?about=shipment:{mine.id}")
    page.goto("/notifications")
    page.get_by_test_id("notification-list").get_by_test_id("notification-help").click()
    page.wait_for_url(re.compile(rf"/support/new\?about=shipment:{mine.id}$"))
    page.wait_for_function("s => document.querySelector('#ticket-subject')?.value === s", arg=subject)

    # And a forged reference to Erin's parcel fills in nothing and says nothing about it
    page.goto(f"/support/new?about=shipment:{theirs.id}")
    page.get_by_text("We could not find what this ticket was about").wait_for()
    assert page.input_value("#ticket-subject") == "" and page.input_value("#ticket-body") == ""
    assert page.get_by_test_id("ticket-context").count() == 0
    assert theirs.tracking_number not in page.content()
