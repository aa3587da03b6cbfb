"""The live path of DESIGN.md: a committed change with a domain event reaches the open
dashboard of that customer, and only theirs, without reload or polling."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.domain import events
from portal.domain.events import DomainEvent, Topic
from portal.models import Customer, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.factories import make_order

pytestmark = pytest.mark.browser


def customer_of(db: Session, email: str) -> Customer:
    user = db.exec(select(User).where(User.email == email)).one()
    customer = db.get(Customer, user.customer_id)
    assert customer is not None
    return customer


def test_new_order_appears_on_the_open_dashboard(page: Any, demo: Any, db: Session) -> None:
    # Given Alice's dashboard is open
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("order-row").first.wait_for()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # When the business records a new order for Alice and announces it
    alice = customer_of(db, "alice@example.com")
    ben = customer_of(db, "ben@example.com")
    with session_scope() as s:
        order = make_order(s, alice, days_ago=0, lines=(("Summit down parka", 1, 34900),))
        events.emit(s, DomainEvent(topic=Topic.ORDERS, customer_id=alice.id))
    # Then it appears at the top of her recent orders without a reload
    first = page.get_by_test_id("order-row").first
    first.get_by_text(order.number).wait_for(timeout=10_000)
    assert navigations == []

    # And an order for someone else never shows up on her page
    with session_scope() as s:
        other = make_order(s, ben, days_ago=0)
        events.emit(s, DomainEvent(topic=Topic.ORDERS, customer_id=ben.id))
    # ... proven by a later order of hers arriving: pushes are delivered in order, so Ben's
    # would have been shown by then (no fixed wait).
    with session_scope() as s:
        later = make_order(s, alice, days_ago=0, lines=(("Trail gaiters", 1, 3900),))
        events.emit(s, DomainEvent(topic=Topic.ORDERS, customer_id=alice.id))
    page.get_by_test_id("order-row").first.get_by_text(later.number).wait_for(timeout=10_000)
    assert other.number not in page.get_by_test_id("recent-orders").inner_text()
