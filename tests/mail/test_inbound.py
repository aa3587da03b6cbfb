"""Mail to the support address, read from a real Dovecot by the fetch job, becomes tickets."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal.domain import support_mail
from portal.domain.errors import Forbidden
from portal.models import Attachment, Customer, Role
from portal.settings import reset_settings_cache
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_mail import deliver, fetch, inbound, mail_to, messages, tickets
from tests.support.imap import Mailbox


def test_known_customer_mail_opens_an_email_ticket_and_one_acknowledgement(db: Session, mailbox: Mailbox) -> None:
    # Given a customer with a portal account
    _, customer = make_customer(db, name="Dana Whitfield", email="dana@example.com")
    # When their Outlook message arrives and the job runs
    mid = deliver(mailbox, "outlook.eml", sender="dana@example.com")
    report = fetch()
    # Then a ticket exists on their account, by email, with the text of the plain part
    assert report.counts["ticket"] == 1, report.lines
    [ticket] = tickets(db)
    assert ticket.customer_id == customer.id and ticket.channel == "email"
    assert ticket.subject == "Order FH-20931 arrived with a broken zip"
    [msg] = messages(db, ticket)
    assert msg.via_email and msg.email_message_id == mid and "the main zip is broken" in msg.body
    assert "Message-ID: <" + mid + ">" in msg.email_headers
    # and they got one acknowledgement with the number and their portal link
    [ack] = mail_to(db, "dana@example.com", "support_ack")
    assert ticket.number in ack.subject and ticket.number in ack.body_text
    assert f"/tickets/{ticket.id}" in ack.body_text
    assert ack.headers["In-Reply-To"] == f"<{mid}>"
    assert ack.headers["Reply-To"] == f"support+{ticket.reply_token}@fernhill.example"
    # and the message moved to the processed folder
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 1

    # When the same message is delivered again (same Message-ID)
    deliver(mailbox, "outlook.eml", sender="dana@example.com", message_id=mid)
    report = fetch()
    # Then nothing is created twice
    assert report.counts["duplicate"] == 1, report.lines
    assert len(tickets(db)) == 1 and len(messages(db, ticket)) == 1
    assert len(mail_to(db, "dana@example.com", "support_ack")) == 1
    assert mailbox.count("Processed") == 2


def test_stranger_gets_a_guest_ticket_without_portal_link(db: Session, mailbox: Mailbox) -> None:
    deliver(mailbox, "gmail_inline_image.eml", sender="priya@gmail.example")
    fetch()
    [ticket] = tickets(db)
    guest = db.get(Customer, ticket.customer_id)
    assert guest is not None and guest.guest and guest.email == "priya@gmail.example" and guest.name == "Priya Raman"
    assert ticket.contact_email == "priya@gmail.example"
    [ack] = mail_to(db, "priya@gmail.example", "support_ack")
    assert ticket.number in ack.body_text and "/tickets/" not in ack.body_text
    # The same stranger writing again is the same guest contact.
    deliver(mailbox, "apple_mail.eml", sender="priya@gmail.example")
    fetch()
    assert {t.customer_id for t in tickets(db)} == {guest.id}


def test_strangers_can_be_refused(db: Session, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_EMAIL_ACCEPT_STRANGERS", "false")
    reset_settings_cache()
    make_customer(db, email="dana@example.com")
    deliver(mailbox, "outlook.eml", sender="someone@else.example")
    deliver(mailbox, "outlook.eml", sender="dana@example.com")  # positive control: a customer still gets in
    report = fetch()
    assert report.counts["ignored"] == 1 and report.counts["ticket"] == 1, report.lines
    assert [t.contact_email for t in tickets(db)] == ["dana@example.com"]
    assert mail_to(db, "someone@else.example") == []
    assert "strangers are refused" in next(r.reason for r in inbound(db) if r.status == "ignored")


def test_real_world_mime_is_read(db: Session, mailbox: Mailbox) -> None:
    deliver(mailbox, "gmail_inline_image.eml", sender="priya@gmail.example")
    deliver(mailbox, "apple_mail.eml", sender="tom@icloud.example")
    deliver(mailbox, "rfc2231_attachment.eml", sender="juergen@web.example")
    deliver(mailbox, "latin1.eml", sender="francois@orange.example")
    report = fetch()
    assert report.counts["ticket"] == 4, report.lines
    gmail, apple, rfc2231, latin1 = tickets(db)

    def files(ticket_id: int | None) -> list[tuple[str, str]]:
        rows = db.exec(select(Attachment).where(Attachment.ticket_id == ticket_id))
        return [(a.filename, a.content_type) for a in rows]

    # Gmail: the plain alternative, and the inline image kept as a file
    [g] = messages(db, gmail)
    assert "trail pack in green" in g.body and "<" not in g.body and "alert" not in g.body
    assert files(gmail.id) == [("IMG_2041.png", "image/png")]
    # Apple Mail: the PDF passes the upload checks; an executable named .png does not, and is named
    [a] = messages(db, apple)
    assert files(apple.id) == [("receipt.pdf", "application/pdf")]
    assert "photo.png: not a type we accept" in a.body
    # RFC 2231 file name
    assert files(rfc2231.id) == [("Bestellbestätigung März.pdf", "application/pdf")]
    # ISO-8859-1 body and a long subject in encoded words
    assert latin1.subject.startswith("Problème de livraison : le colis est arrivé abîmé et il manque")
    assert "arrivé abîmé" in messages(db, latin1)[0].body


def test_machines_get_no_acknowledgement(db: Session, mailbox: Mailbox) -> None:
    deliver(mailbox, "auto_reply.eml", sender="dana@example.com", subject="Hello", in_reply_to="x@y.example")
    deliver(mailbox, "newsletter.eml", sender="news@outdoor-trade.example")
    deliver(mailbox, "outlook.eml", sender="noreply@shop.example")
    deliver(mailbox, "outlook.eml", sender="tom@example.com")  # positive control: a person
    fetch()
    assert len(tickets(db)) == 4
    assert mail_to(db, "dana@example.com") == []
    assert mail_to(db, "news@outdoor-trade.example") == []
    assert mail_to(db, "noreply@shop.example") == []
    assert len(mail_to(db, "tom@example.com", "support_ack")) == 1


def test_per_sender_rate_limit_leaves_the_rest_in_the_failure_folder(db: Session, mailbox: Mailbox,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_EMAIL_PER_SENDER_PER_HOUR", "2")
    reset_settings_cache()
    for _ in range(3):
        deliver(mailbox, "outlook.eml", sender="flood@example.com")
    deliver(mailbox, "outlook.eml", sender="calm@example.com")
    report = fetch()
    assert report.counts["ticket"] == 3 and report.counts["failed"] == 1, report.lines
    assert [t.contact_email for t in tickets(db)].count("flood@example.com") == 2
    assert mailbox.count("Failed") == 1 and mailbox.count("INBOX") == 0
    [failed] = [r for r in inbound(db) if r.status == "failed"]
    assert failed.from_address == "flood@example.com" and "hourly allowance" in failed.reason
    # Admins see it with its reason; agents do not reach the log
    admin, agent = make_staff(db, role=Role.ADMIN), make_staff(db)
    rows = support_mail.inbound_log(db, principal=principal_for(admin), failures_only=True)
    assert [(r.from_address, r.status) for r in rows] == [("flood@example.com", "failed")]
    assert "hourly allowance" in rows[0].reason
    assert len(support_mail.inbound_log(db, principal=principal_for(admin))) == 4
    with pytest.raises(Forbidden):
        support_mail.inbound_log(db, principal=principal_for(agent))


def test_bad_messages_never_stop_the_job(db: Session, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_EMAIL_MAX_BYTES", "20000")
    reset_settings_cache()
    mailbox.append(b"Subject: no sender at all\r\nMessage-ID: <nosender@x.example>\r\n\r\nhello\r\n")
    mailbox.append(b"From: big@example.com\r\nSubject: huge\r\nMessage-ID: <big@x.example>\r\n\r\n"
                   + b"x" * 30_000 + b"\r\n")
    deliver(mailbox, "outlook.eml", sender="fine@example.com")
    report = fetch()
    assert report.counts["failed"] == 2 and report.counts["ticket"] == 1, report.lines
    assert sorted(mailbox.folder_subjects("Failed")) == ["huge", "no sender at all"]
    reasons = {r.subject: r.reason for r in inbound(db) if r.status == "failed"}
    assert "no sender" in reasons["no sender at all"]
    assert reasons["huge"].startswith("too large")


def test_unreachable_mailbox_loses_nothing(db: Session, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.integrations.imap import ImapError

    deliver(mailbox, "outlook.eml", sender="dana@example.com")
    monkeypatch.setenv("SUPPORT_IMAP_PASSWORD", "wrong")
    reset_settings_cache()
    with pytest.raises(ImapError, match="login refused"):
        fetch()
    assert mailbox.count("INBOX") == 1 and tickets(db) == []
    monkeypatch.setenv("SUPPORT_IMAP_PASSWORD", mailbox.password)
    reset_settings_cache()
    assert fetch().counts["ticket"] == 1


def test_the_fetch_job_is_scheduled_only_with_a_mailbox_and_runs_once_per_tick(db: Session, mailbox: Mailbox,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from portal.jobs import mail_fetch
    from portal.jobs.scheduler import JOBS, run_tick
    from tests.support.aio import run_async

    monkeypatch.delitem(JOBS, "mail-fetch", raising=False)
    monkeypatch.setenv("SUPPORT_IMAP_HOST", "")
    reset_settings_cache()
    mail_fetch.register_job()
    assert "mail-fetch" not in JOBS  # no mailbox configured: the job is off
    monkeypatch.setenv("SUPPORT_IMAP_HOST", mailbox.host)
    reset_settings_cache()
    mail_fetch.register_job()
    spec = JOBS["mail-fetch"]
    deliver(mailbox, "outlook.eml", sender="dana@example.com")

    async def two_workers() -> list[bool]:
        return await asyncio.gather(run_tick(spec, now=9_000_000.0), run_tick(spec, now=9_000_001.0))

    assert sorted(run_async(two_workers())) == [False, True]
    assert len(tickets(db)) == 1
