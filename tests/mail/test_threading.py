"""Both directions of an email conversation: agent replies go out threaded over SMTP (aiosmtpd),
the customer's emailed answers come back into the same ticket through Dovecot."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import Session

from portal.db import utcnow
from portal.domain import support, support_mail
from portal.jobs.mail import send_pending
from portal.models import Ticket, TicketStatus
from portal.settings import ROOT
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_mail import deliver, fetch, inbound, mail_to, messages, new_id, tickets
from tests.support.imap import Mailbox
from tests.support.smtp import Inbox


def _email_ticket(db: Session, mailbox: Mailbox, sender: str = "dana@example.com") -> tuple[Ticket, str]:
    mid = deliver(mailbox, "outlook.eml", sender=sender)
    fetch()
    [ticket] = tickets(db)
    return ticket, mid


def _agent_answers(db: Session, ticket: Ticket, body: str = "Thanks! Which size is it?") -> None:
    agent = make_staff(db)
    support.agent_reply(db, principal=principal_for(agent), ticket_id=ticket.id or 0, body=body)
    db.commit()


def test_agent_reply_goes_out_threaded_and_the_emailed_answer_lands_in_the_ticket(
        db: Session, mailbox: Mailbox, smtp_inbox: Inbox) -> None:
    make_customer(db, email="dana@example.com")
    ticket, original = _email_ticket(db, mailbox)
    # When an agent answers in the console and the mail job runs
    _agent_answers(db, ticket)
    send_pending()
    # Then the customer receives it over SMTP, threaded with their message, with the ticket's reply address
    [reply] = [m for m in smtp_inbox.to("dana@example.com") if "Which size" in m.get_content()]
    assert reply["In-Reply-To"] == f"<{original}>"
    assert f"<{original}>" in reply["References"]
    assert reply["Reply-To"] == f"support+{ticket.reply_token}@fernhill.example"
    assert len(ticket.reply_token or "") == 24
    # and only once: the portal notification adds no second email
    assert len([m for m in smtp_inbox.to("dana@example.com") if "Which size" in m.get_content()]) == 1
    reply_id = reply["Message-ID"].strip("<>")

    # When the customer answers from their mail client, quoting everything below a signature
    deliver(mailbox, "reply_with_history.eml", sender="dana@example.com", reply_to=reply["Reply-To"],
            in_reply_to=reply_id, references=f"{original}> <{reply_id}", subject=ticket.subject,
            body="It is a size M.")
    report = fetch()
    # Then it is the next message of the same ticket: the new part only, the full original kept
    assert report.counts["reply"] == 1, report.lines
    assert len(tickets(db)) == 1
    last = messages(db, ticket)[-1]
    assert last.body == "It is a size M.\n\nBest,\nDana"
    assert "wrote:" in last.email_original and "Whitfield Design" in last.email_original
    db.refresh(ticket)
    assert ticket.status == TicketStatus.OPEN


def test_a_guessed_token_threads_nothing(db: Session, mailbox: Mailbox) -> None:
    ticket, _ = _email_ticket(db, mailbox)
    deliver(mailbox, "reply_with_history.eml", sender="dana@example.com",
            reply_to="support+000000000000000000000000@fernhill.example", in_reply_to=new_id(),
            references=new_id(), subject="anything", body="Hello")
    fetch()
    # A new ticket, not a reply to the existing one (positive control: the test above)
    assert len(tickets(db)) == 2 and len(messages(db, ticket)) == 1


def test_a_reply_reopens_a_solved_ticket_within_the_window_else_opens_a_follow_up(
        db: Session, mailbox: Mailbox) -> None:
    ticket, _ = _email_ticket(db, mailbox)
    ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, utcnow() - timedelta(days=1)
    db.add(ticket)
    db.commit()
    address = support_mail.reply_address(ticket.reply_token or "")
    deliver(mailbox, "reply_with_history.eml", sender="dana@example.com", reply_to=address,
            in_reply_to=new_id(), references=new_id(), subject=ticket.subject, body="Still broken.")
    fetch()
    db.refresh(ticket)
    assert ticket.status == TicketStatus.OPEN and len(tickets(db)) == 1
    assert "Still broken." in messages(db, ticket)[-1].body

    ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, utcnow() - timedelta(days=30)
    db.add(ticket)
    db.commit()
    deliver(mailbox, "reply_with_history.eml", sender="dana@example.com", reply_to=address,
            in_reply_to=new_id(), references=new_id(), subject=ticket.subject, body="Broken again.")
    fetch()
    db.refresh(ticket)
    old, new = tickets(db)
    assert old.status == TicketStatus.RESOLVED
    assert new.follow_up_of_id == ticket.id and new.customer_id == ticket.customer_id
    assert any("Broken again." in m.body for m in messages(db, new))


def test_a_reply_from_someone_else_is_held_for_an_agent(db: Session, mailbox: Mailbox) -> None:
    ticket, _ = _email_ticket(db, mailbox)
    address = support_mail.reply_address(ticket.reply_token or "")
    # When a colleague forwards the reply address and writes from their own address
    deliver(mailbox, "forwarded_reply.eml", sender="sam@other.example", reply_to=address, subject=ticket.subject)
    report = fetch()
    # Then nothing lands in the ticket's visible thread: the message is held
    assert report.counts["quarantined"] == 1, report.lines
    assert not any(m.author_kind == "customer" and "delivery address" in m.body for m in messages(db, ticket))
    agent = make_staff(db)
    held = support_mail.held_replies(db, principal=principal_for(agent), ticket_id=ticket.id or 0)
    assert [h.from_address for h in held] == ["sam@other.example"]
    assert "change the delivery address" in held[0].preview
    # A customer cannot decide
    user, _ = make_customer(db)
    with pytest.raises(Exception, match="staff only"):
        support_mail.decide_held(db, principal=principal_for(user), ticket_id=ticket.id or 0,
                                 held_id=held[0].id, accept=True)
    # When the agent accepts it, it joins the thread, once
    support_mail.decide_held(db, principal=principal_for(agent), ticket_id=ticket.id or 0, held_id=held[0].id,
                             accept=True)
    db.commit()
    assert "change the delivery address" in messages(db, ticket)[-1].body
    assert support_mail.held_replies(db, principal=principal_for(agent), ticket_id=ticket.id or 0) == []


def test_a_bounce_marks_the_reply_undelivered_and_tells_the_agent(db: Session, mailbox: Mailbox,
                                                                  smtp_inbox: Inbox) -> None:
    ticket, _ = _email_ticket(db, mailbox, sender="gone@example.net")
    _agent_answers(db, ticket)
    send_pending()
    [sent] = mail_to(db, "gone@example.net", "support_reply")
    deliver(mailbox, "bounce_dsn.eml", sender="MAILER-DAEMON@mx.fernhill.example", rcpt="gone@example.net",
            original_id=sent.message_id or "", subject=sent.subject)
    report = fetch()
    assert report.counts["bounce"] == 1, report.lines
    agent_msg = next(m for m in messages(db, ticket) if m.author_kind == "agent")
    assert agent_msg.delivery_status == "undelivered"
    assert any(m.internal and "could not be delivered" in m.body and "User unknown" in m.body
               for m in messages(db, ticket))
    db.refresh(sent)
    assert sent.bounced_at is not None
    # No acknowledgement or ticket for the bounce itself
    assert len(tickets(db)) == 1 and mail_to(db, "mailer-daemon@mx.fernhill.example") == []


def test_mail_fetch_command_prints_what_it_did(db: Session, mailbox: Mailbox) -> None:
    deliver(mailbox, "outlook.eml", sender="dana@example.com")
    mailbox.append(b"Subject: broken\r\n\r\nno sender\r\n")
    out = subprocess.run([sys.executable, "-m", "portal.manage", "mail-fetch", "--once"], cwd=ROOT,
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    [ticket] = tickets(db)
    assert f"ticket {ticket.number}" in out.stdout
    assert "failed no sender address" in out.stdout
    assert "mail-fetch: failed=1 ticket=1" in out.stdout
    assert [r.status for r in inbound(db)] == ["ticket", "failed"]


def test_an_agent_links_a_guest_contact_to_a_customer(db: Session, mailbox: Mailbox) -> None:
    from portal.domain.errors import Invalid
    from portal.models import Customer

    ticket, _ = _email_ticket(db, mailbox, sender="dana.private@mail.example")
    guest = db.get(Customer, ticket.customer_id)
    assert guest is not None and guest.guest
    _, customer = make_customer(db, email="dana@example.com")
    agent = principal_for(make_staff(db))
    with pytest.raises(Invalid, match="unknown_customer"):
        support_mail.link_contact(db, principal=agent, ticket_id=ticket.id or 0, customer_number=guest.number)
    support_mail.link_contact(db, principal=agent, ticket_id=ticket.id or 0, customer_number=customer.number)
    db.commit()
    db.refresh(ticket)
    assert ticket.customer_id == customer.id
    # Replies by mail keep threading to the contact address
    assert ticket.contact_email == "dana.private@mail.example"
