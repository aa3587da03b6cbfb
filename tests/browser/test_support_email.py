"""Support by email, end to end: a customer's mail (delivered into a real Dovecot) becomes a ticket,
the agent answers in the console and the answer leaves by SMTP threaded with the mail, and the
customer's emailed reply appears on the agent's open ticket page without a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.jobs.mail import send_pending
from portal.jobs.mail_fetch import fetch_once
from portal.models import Ticket
from portal.seed.demo import AGENT_EMAIL, DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.factories_mail import deliver
from tests.support.imap import Mailbox
from tests.support.smtp import Inbox

pytestmark = pytest.mark.browser

def test_an_emailed_question_is_answered_and_the_emailed_reply_arrives_live(
        page: Any, harness: Any, demo: Any, db: Session, mailbox: Mailbox, smtp_inbox: Inbox) -> None:
    # Given Alice writes to the support address from her mail client
    original = deliver(mailbox, "outlook.eml", sender="alice@example.com")
    # When the mailbox is read (as the scheduled job does)
    assert fetch_once().counts["ticket"] == 1
    ticket = db.exec(select(Ticket).where(Ticket.contact_email == "alice@example.com",
                                          Ticket.subject == "Order FH-20931 arrived with a broken zip")).one()

    # Then the agent finds it in the queue under the email channel
    sign_in(page, AGENT_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.get_by_test_id("queue-row").first.wait_for()
    page.get_by_test_id("filter-channel").click()
    page.get_by_role("option", name="Email").click()
    page.get_by_test_id("filter-channel").get_by_text("Email").wait_for()
    page.wait_for_function("[...document.querySelectorAll('[data-testid=queue-row]')].every("
                           "r => r.querySelector('[data-testid=channel-email]'))")
    page.get_by_test_id("queue").get_by_text(ticket.subject).click()
    page.wait_for_url(re.compile(rf"/agent/tickets/{ticket.id}"))
    thread = page.get_by_test_id("thread")
    thread.get_by_text("the main zip is broken").wait_for()
    thread.get_by_test_id("via-email").first.wait_for()
    # ... with the headers on demand
    page.get_by_test_id("show-headers").first.click()
    page.get_by_test_id("mail-headers").get_by_text(re.compile(re.escape(original))).wait_for()

    # When the agent answers
    page.fill("#agent-reply", "Sorry about the zip! Which size is the jacket?")
    # Leaving the field sends what was typed at once (the debounced input flushes on blur), before the click
    page.locator("#agent-reply").blur()
    page.get_by_test_id("agent-send").click()
    page.get_by_text("Reply sent.").wait_for()
    # Then the answer leaves by SMTP, threaded with her mail and carrying the ticket's reply address
    send_pending()
    [reply] = [m for m in smtp_inbox.to("alice@example.com") if "Which size" in m.get_content()]
    assert reply["In-Reply-To"] == f"<{original}>"
    db.refresh(ticket)
    assert reply["Reply-To"] == f"support+{ticket.reply_token}@fernhill.example"

    # When Alice answers from her mail client and the mailbox is read again
    deliver(mailbox, "reply_with_history.eml", sender="alice@example.com", reply_to=reply["Reply-To"],
            in_reply_to=reply["Message-ID"].strip("<>"), references=original, subject=ticket.subject,
            body="It is a size M, thank you.")
    assert fetch_once().counts["reply"] == 1
    # Then her answer, without the quoted history, appears on the agent's open page
    thread.get_by_text("It is a size M, thank you.").wait_for(timeout=15_000)
    assert "wrote:" not in thread.inner_text()


def test_agent_mail_handlers_only_reach_what_the_tab_was_shown(db: Session, harness: Any,
                                                               backend_url: str) -> None:
    from portal.domain import support_mail
    from portal.models import InboundMail, TicketMessage
    from portal.state.staff import AgentTicketState
    from tests.browser.test_forged_events import cookie_for
    from tests.factories import make_customer, make_staff
    from tests.support.aio import run_async
    from tests.support.imap import corpus
    from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

    def mail(name: str, **fields: str) -> Ticket | None:
        raw = corpus(name, to="support@fernhill.example", **fields)
        outcome = support_mail.ingest(db, raw=raw)
        db.commit()
        return db.get(Ticket, outcome.ticket_id)

    make_customer(db, email="dana@example.com")
    shown = mail("outlook.eml", **{"from": "dana@example.com", "message_id": "shown@mail.example"})
    other = mail("apple_mail.eml", **{"from": "tom@example.com", "message_id": "other-secret@mail.example"})
    assert shown is not None and other is not None
    mail("forwarded_reply.eml", **{"from": "sam@other.example", "message_id": "held@mail.example",
                                   "reply_to": support_mail.reply_address(other.reply_token or ""),
                                   "subject": other.subject})
    other_msg = db.exec(select(TicketMessage).where(TicketMessage.ticket_id == other.id,
                                                    TicketMessage.via_email == True)).first()  # noqa: E712
    shown_msg = db.exec(select(TicketMessage).where(TicketMessage.ticket_id == shown.id)).first()
    held = db.exec(select(InboundMail).where(InboundMail.status == "quarantined")).one()
    assert other_msg is not None and shown_msg is not None
    path = f"/agent/tickets/{shown.id}"

    async def go() -> str:
        out: list[dict[str, Any]] = []
        async with ReflexClient(backend_url, cookie=cookie_for(db, make_staff(db))) as c:
            for handler, payload in [
                (AgentTicketState.load, {}),
                # Another ticket's message and another ticket's held mail: never shown to this tab
                (AgentTicketState.show_headers, {"message_id": other_msg.id}),
                (AgentTicketState.decide_held, {"held_id": held.id, "accept": True}),
                # Positive control: the headers of a message this tab shows
                (AgentTicketState.show_headers, {"message_id": shown_msg.id}),
            ]:
                out += await c.send(handler_name(handler), payload, path=path)
        return deltas_text(out)

    text = run_async(go())
    assert "shown@mail.example" in text
    assert "other-secret@mail.example" not in text and "Tom Becker" not in text
    db.expire_all()
    still = db.get(InboundMail, held.id)
    assert still is not None and still.status == "quarantined"


def test_admins_see_what_the_mailbox_job_set_aside_and_why(page: Any, harness: Any, demo: Any, db: Session,
                                                           mailbox: Mailbox) -> None:
    from portal.seed.demo import ADMIN_EMAIL

    # Given a mail nobody can read (no sender) next to a good one
    mailbox.append(b"Subject: Order question without a sender\r\nMessage-ID: <nosender@mail.example>\r\n\r\nhi\r\n")
    deliver(mailbox, "latin1.eml", sender="francois@orange.example")
    report = fetch_once()
    assert report.counts["failed"] == 1 and report.counts["ticket"] == 1, report.lines
    # When an admin opens the mailbox log and asks for failures only
    sign_in(page, ADMIN_EMAIL, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent|/admin|/dashboard"))
    page.goto("/admin/mail")
    rows = page.get_by_test_id("inbound-row")
    rows.get_by_text("Probl\u00e8me de livraison", exact=False).wait_for()
    page.get_by_test_id("failures-only").click()
    # Then only the failure remains, with its reason
    page.wait_for_function("document.querySelectorAll('[data-testid=inbound-row]').length === 1")
    rows.get_by_text("Order question without a sender").wait_for()
    rows.get_by_text(re.compile("no sender address")).wait_for()
    assert mailbox.folder_subjects("Failed") == ["Order question without a sender"]
