"""A customer asks the assistant on their dashboard, picks an order, then asks for a person."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, col, select

from portal.models import AuditEvent, Conversation, KbArticle, Order, OrderStatus, SearchQuery, Ticket, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_customer_asks_where_an_order_is_then_hands_over_to_a_person(page: Any, demo: Any, db: Session) -> None:
    # Given Alice on her dashboard
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    # When she opens the assistant and taps "Where is my order?"
    page.get_by_test_id("assistant-button").click()
    page.get_by_test_id("assistant-panel").wait_for()
    page.get_by_test_id("assistant-choice").filter(has_text="Where is my order?").click()
    # Then it asks which order, offering hers
    page.get_by_test_id("assistant-reply").filter(has_text="Which order").wait_for()
    choice = page.get_by_test_id("assistant-choice").first
    found = re.match(r"FH-\d+", choice.inner_text())
    assert found
    number = found.group(0)
    # When she picks one, it tells her where it is, with a link to the order
    choice.click()
    reply = page.get_by_test_id("assistant-reply").filter(has_text=f"Order {number} is")
    reply.wait_for()
    assert reply.get_by_test_id("assistant-link").get_attribute("href", timeout=5000)

    # When she asks for a person, it asks first and does nothing until she says yes
    page.get_by_test_id("assistant-input").fill("I'd like to talk to a person please")
    page.get_by_test_id("assistant-send").click()
    page.get_by_text("Nothing changes until you say yes.").wait_for()
    db.expire_all()
    alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
    before = len(db.exec(select(Ticket).where(Ticket.channel == "assistant")).all())
    page.get_by_test_id("assistant-choice").filter(has_text="Yes").click()
    done = page.get_by_test_id("assistant-reply").filter(has_text="Done: I")
    done.wait_for()
    db.expire_all()
    if "live chat" in done.inner_text():  # an agent of the demo is online: the live chat took it
        conv = db.exec(select(Conversation).where(Conversation.user_id == alice.id)).one()
        assert conv.customer_id == alice.customer_id
    else:
        tickets = db.exec(select(Ticket).where(Ticket.channel == "assistant").order_by(col(Ticket.id))).all()
        assert len(tickets) == before + 1 and tickets[-1].number in done.inner_text()
        assert tickets[-1].customer_id == alice.customer_id
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "assistant.handover")).one()
    assert audit.actor_kind == "assistant" and audit.actor_user_id == alice.id


def test_customer_cancels_an_order_through_the_assistant_and_the_open_page_follows(page: Any, demo: Any,
                                                                                  db: Session) -> None:
    # Given Alice on the page of her paid order
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
    paid = db.exec(select(Order).where(Order.customer_id == alice.customer_id, Order.status == OrderStatus.PAID)
                   .order_by(col(Order.id))).first()
    assert paid is not None
    page.goto(f"/orders/{paid.id}")
    page.get_by_test_id("order-status").get_by_text("Paid").wait_for()
    # When she asks the assistant to cancel it, it asks why, with the order page's reasons
    page.get_by_test_id("assistant-button").click()
    page.get_by_test_id("assistant-input").fill(f"Please cancel {paid.number}")
    page.get_by_test_id("assistant-send").click()
    page.get_by_test_id("assistant-reply").filter(has_text="Why do you want to cancel").wait_for()
    page.get_by_test_id("assistant-choice").filter(has_text="I ordered it by mistake").click()
    # Then it says what it is about to do, and nothing changes yet
    page.get_by_test_id("assistant-reply").filter(has_text=f"I'm about to cancel order {paid.number}").wait_for()
    page.get_by_text("Nothing changes until you say yes.").wait_for()
    db.expire_all()
    assert db.get(Order, paid.id).status == OrderStatus.PAID  # type: ignore[union-attr]
    # When she says yes, it is done, the open order page follows live, and it is on record as the assistant's
    page.get_by_test_id("assistant-choice").filter(has_text="Yes").click()
    page.get_by_test_id("assistant-reply").filter(has_text=f"Done: order {paid.number} is cancelled").wait_for()
    page.get_by_test_id("order-status").get_by_text("Cancelled").wait_for()
    db.expire_all()
    assert db.get(Order, paid.id).status == OrderStatus.CANCELLED  # type: ignore[union-attr]
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == "order.cancel",
                                          AuditEvent.target_id == str(paid.id))).one()
    assert (ev.actor_kind, ev.actor_user_id) == ("assistant", alice.id)


def test_a_help_article_opened_from_the_assistant_is_recorded(page: Any, demo: Any, db: Session) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("assistant-button").click()
    page.get_by_test_id("assistant-input").fill("how do returns work")
    page.get_by_test_id("assistant-send").click()
    page.get_by_test_id("assistant-reply").filter(has_text="These articles may help").wait_for()
    link = page.get_by_test_id("assistant-link").first
    title = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/help/[a-z0-9-]+/[a-z0-9-]+"))
    page.get_by_role("heading", name=title).first.wait_for()
    db.expire_all()
    asked = db.exec(select(SearchQuery).where(SearchQuery.source == "assistant")).one()
    opened = db.get(KbArticle, asked.clicked_article_id)
    assert opened is not None and opened.title == title


def test_staff_and_strangers_get_no_assistant(page: Any, demo: Any) -> None:
    page.goto("/help")
    page.get_by_test_id("help-category").first.wait_for()
    assert page.get_by_test_id("assistant-button").count() == 0
    sign_in(page, "agent@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.get_by_test_id("queue-total").wait_for()
    assert page.get_by_test_id("assistant-button").count() == 0
