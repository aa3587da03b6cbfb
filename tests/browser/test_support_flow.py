"""Support in two browsers: a customer opens a ticket with a photo and sees the agent's answer
arrive on the open ticket page; a live chat with messages, typing and read receipts on both
sides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import Attachment, Invoice, Shipment, Ticket, User
from portal.seed.demo import AGENT_EMAIL, DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.factories_support import EXE_BYTES, png_bytes
from tests.support.frames import current_path, shown_at, watch_frames
from tests.support.uploads import send_files

pytestmark = pytest.mark.browser


def _second_page(browser: Any, harness: Any) -> tuple[Any, Any]:
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    return context, pg


def test_ticket_with_a_photo_is_answered_live(page: Any, browser: Any, harness: Any, demo: Any, db: Session,
                                              tmp_path: Path) -> None:
    # Given Alice on the "Get help" page
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_role("link", name="Support").first.click()
    page.wait_for_url(re.compile(r"/support$"))
    page.get_by_role("link", name="Get help").click()
    page.wait_for_url(re.compile(r"/support/new"))
    # Sending an empty form is refused with a clear message
    page.get_by_test_id("submit-ticket").click()
    page.get_by_text("Give your ticket a subject.").wait_for()

    # When she describes her problem, help articles are suggested
    page.fill("#ticket-subject", "Zip broke on my jacket")
    page.fill("#ticket-body", "The zip of my waterproof jacket broke after a week of use.")
    page.get_by_test_id("suggestions").get_by_text("Caring for your waterproof jacket").wait_for()

    # ... a program dressed up as a picture is refused, a real photo is accepted
    fake = tmp_path / "holiday.png"
    fake.write_bytes(EXE_BYTES)
    photo = tmp_path / "broken-zip.png"
    photo.write_bytes(png_bytes(4, 4))
    page.set_input_files("#ticket_files input[type=file]", str(fake))
    page.get_by_text("must really be of the type").wait_for()
    send_files(page, lambda: page.set_input_files("#ticket_files input[type=file]", str(photo)),
               page.get_by_test_id("staged-file").get_by_text("broken-zip.png"))
    assert page.get_by_test_id("staged-file").count() == 1
    page.get_by_test_id("submit-ticket").click()

    # Then her ticket page shows the thread with the photo, served only to her
    page.wait_for_url(re.compile(r"/tickets/\d+"))
    ticket_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    page.get_by_test_id("ticket-subject").get_by_text("Zip broke on my jacket").wait_for()
    link = page.get_by_test_id("attachment-link").first
    link.wait_for()
    resp = page.request.get(link.get_attribute("href"))
    assert resp.status == 200 and resp.body() == png_bytes(4, 4)
    ticket = db.get(Ticket, ticket_id)
    assert ticket is not None and ticket.subject == "Zip broke on my jacket"
    stored = db.exec(select(Attachment).where(Attachment.ticket_id == ticket_id)).one()
    assert stored.content_type == "image/png" and "broken-zip" not in stored.storage_key

    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # When an agent, in another browser, answers it from the console
    ctx, agent = _second_page(browser, harness)
    try:
        sign_in(agent, AGENT_EMAIL, DEMO_PASSWORD)
        agent.wait_for_url(re.compile(r"/agent"))
        agent.get_by_test_id("queue").get_by_text("Zip broke on my jacket").click()
        agent.wait_for_url(re.compile(rf"/agent/tickets/{ticket_id}"))
        agent.get_by_test_id("thread").get_by_text("broke after a week").wait_for()
        # An internal note first: colleagues see it, the customer never does
        agent.get_by_test_id("internal").click()
        agent.fill("#agent-reply", "Zip supplier batch 7 again, check with warehouse")
        agent.locator("#agent-reply").blur()  # the debounced input sends what was typed on blur
        agent.get_by_test_id("agent-send").click()
        agent.get_by_text("Note added.").wait_for()
        agent.get_by_test_id("thread").get_by_text("Internal note").wait_for()
        # A canned reply fills the answer box
        agent.get_by_test_id("canned").click()
        agent.get_by_role("option").first.click()
        agent.wait_for_function("document.querySelector('#agent-reply').value.length > 20")
        agent.fill("#agent-reply", "Sorry about that! A replacement zip is on its way to you.")
        agent.locator("#agent-reply").blur()  # the debounced input sends what was typed on blur
        agent.get_by_test_id("agent-send").click()
        agent.get_by_text("Reply sent.").wait_for()
        # A reply half-written when the agent looks at the queue is still there when they come back
        agent.fill("#agent-reply", "One more thing: the warehouse")
        agent.locator("#agent-reply").blur()
        agent.get_by_role("link", name="← Queue").click()
        agent.wait_for_url(re.compile(r"/agent/?$"))
        agent.get_by_test_id("queue").get_by_text("Zip broke on my jacket").click()
        agent.wait_for_url(re.compile(rf"/agent/tickets/{ticket_id}"))
        agent.get_by_test_id("thread").get_by_text("A replacement zip is on its way").wait_for()
        agent.wait_for_function("document.querySelector('#agent-reply').value === 'One more thing: the warehouse'")
    finally:
        ctx.close()

    # Then the reply appears on Alice's open ticket page without a reload
    page.get_by_test_id("thread").get_by_text("A replacement zip is on its way").wait_for(timeout=10_000)
    assert page.get_by_test_id("ticket-status").inner_text() == "Pending"
    assert "Zip supplier batch" not in page.get_by_test_id("thread").inner_text()
    assert navigations == []


def test_live_chat_messages_typing_and_read_on_both_sides(page: Any, browser: Any, harness: Any,
                                                          demo: Any) -> None:
    # Given an agent with the console open (so they count as available)
    ctx, agent = _second_page(browser, harness)
    try:
        sign_in(agent, AGENT_EMAIL, DEMO_PASSWORD)
        agent.wait_for_url(re.compile(r"/agent"))
        agent.get_by_test_id("queue-total").wait_for()

        # When Alice asks for a chat from her dashboard
        sign_in(page, "alice@example.com", DEMO_PASSWORD)
        page.wait_for_url(re.compile(r"/dashboard"))
        page.get_by_test_id("chat-open").click()
        page.fill("#chat-draft", "Hello, is anyone there?")
        page.locator("#chat-draft").blur()  # the debounced input sends what was typed on blur
        page.get_by_test_id("chat-send").click()
        page.get_by_test_id("chat-waiting").wait_for()

        # Then the agent sees the waiting chat appear, takes it, and sees who and where she is
        agent.get_by_test_id("take-chat").click()
        agent.wait_for_url(re.compile(r"/agent/chats/\d+"))
        agent.get_by_test_id("ctx-page").get_by_text(re.compile(r"/dashboard")).wait_for()
        agent.get_by_test_id("ctx-customer").get_by_text(re.compile("Alice")).wait_for()
        agent.get_by_test_id("chat-context").get_by_text(re.compile(r"FH-\d+")).first.wait_for()

        # The agent's message appears live in Alice's panel, and the agent sees it was read
        agent.fill("#agent-chat-draft", "Hi Alice, Sam here. How can I help?")
        agent.locator("#agent-chat-draft").blur()  # the debounced input sends what was typed on blur
        agent.get_by_test_id("agent-chat-send").click()
        page.get_by_test_id("chat-messages").get_by_text("Sam here. How can I help?").wait_for()
        agent.get_by_test_id("agent-seen").wait_for()

        # Alice starts typing: the agent sees it; her message then appears on the agent's side
        page.fill("#chat-draft", "My parcel")
        agent.get_by_test_id("customer-typing").wait_for()
        page.fill("#chat-draft", "My parcel is late, order FH-1")
        page.locator("#chat-draft").blur()  # the debounced input sends what was typed on blur
        page.get_by_test_id("chat-send").click()
        agent.get_by_test_id("agent-chat-lines").get_by_text("My parcel is late, order FH-1").wait_for()
        page.get_by_test_id("chat-seen").wait_for()

        # When the agent closes the chat into a ticket, Alice is told which ticket it became
        agent.get_by_test_id("close-chat").click()
        agent.wait_for_url(re.compile(r"/agent/tickets/\d+"))
        notice = page.get_by_test_id("chat-ticket-notice")
        notice.wait_for()
        assert re.search(r"T-\d+", notice.inner_text())
    finally:
        ctx.close()


def test_help_from_an_order_page_carries_the_order_as_context(page: Any, demo: Any) -> None:
    # Given Alice on one of her orders
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("recent-orders").get_by_role("link").first.click()
    number = page.get_by_test_id("order-number")
    number.wait_for()
    order_number = number.inner_text()
    # When she asks for help with it
    page.get_by_test_id("help-link").click()
    page.wait_for_url(re.compile(r"/support/new\?about=order:\d+$"))
    # Then the form says what the ticket is about
    page.get_by_test_id("ticket-context").get_by_text(order_number).wait_for()
    # ... and an order id that is not hers is not shown as context
    page.goto("/support/new?context=order&id=999999")
    page.get_by_text("We could not find what this ticket was about").wait_for()
    assert page.get_by_test_id("ticket-context").count() == 0


def test_help_from_an_invoice_or_a_shipment_page_carries_it_as_context(page: Any, demo: Any, db: Session) -> None:
    # Given Alice, one of her invoices and one of her shipments
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
    invoice = db.exec(select(Invoice).where(Invoice.customer_id == alice.customer_id)).first()
    shipment = db.exec(select(Shipment).where(Shipment.customer_id == alice.customer_id)).first()
    assert invoice is not None and shipment is not None
    for path, expected in ((f"/billing/invoices/{invoice.id}", f"Invoice {invoice.number}"),
                           (f"/shipments/{shipment.id}", f"Shipment {shipment.tracking_number}")):
        # When she asks for help from its page
        page.goto(path)
        page.get_by_test_id("help-link").click()
        page.wait_for_url(re.compile(r"/support/new\?about=(invoice|shipment):\d+$"))
        # Then the new ticket says what it is about
        page.get_by_test_id("ticket-context").get_by_text(expected).wait_for()


def test_an_agent_going_from_one_ticket_to_the_next_never_sees_the_first_under_the_second(
        page: Any, demo: Any) -> None:
    # Given an agent on the queue, who opens one ticket and reads it
    sign_in(page, AGENT_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent/?$"))
    rows = page.get_by_test_id("queue-row")
    rows.nth(1).wait_for()
    watch_frames(page, "[data-testid=agent-ticket-subject]")
    rows.nth(0).get_by_role("link").click()
    page.wait_for_url(re.compile(r"/agent/tickets/\d+/?$"))
    first_path = current_path(page)
    first = page.get_by_test_id("agent-ticket-subject")
    first.wait_for()
    first_subject = first.inner_text()
    # (the frames are seen: its subject was painted at its address)
    assert first_subject in shown_at(page, first_path)

    # When they go back to the queue and open another ticket
    page.get_by_text("← Queue").click()
    page.wait_for_url(re.compile(r"/agent/?$"))
    other = rows.filter(has_not_text=first_subject).first
    other_subject = other.get_by_role("link").inner_text()
    other.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/agent/tickets/\d+/?$"))
    second_path = current_path(page)
    assert second_path != first_path

    # Then that ticket shows, and no frame ever showed the first ticket under its address
    page.get_by_test_id("agent-ticket-subject").get_by_text(other_subject, exact=True).wait_for()
    shown = shown_at(page, second_path)
    assert other_subject in shown
    assert first_subject not in shown
