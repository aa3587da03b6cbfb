"""Support by email: a message read from the support mailbox becomes a ticket or a reply in one;
agent replies go out threaded, with a reply address that carries the ticket.

Threading in: a reply is matched to its ticket by the unguessable token of the address it was
sent to (support+TOKEN@...) or by the Message-IDs it answers. Ticket numbers in subjects are
never trusted, as anyone can type one. Even with a token, only the ticket's own contact (or a
user of its customer account) adds to it: anyone else's message is held for an agent.

Noise: nothing is acknowledged to a machine (auto-replies, lists, bulk, mailer-daemon, no-reply);
delivery status notifications mark our message undelivered and tell the agent; each sender has an
hourly allowance; the same Message-ID delivered twice creates nothing the second time.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import attachments as att
from portal.domain import audit, events, outbox, throttle
from portal.domain import stored_wording as sw
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.mail import queue_mail
from portal.domain.notifications import Text, notify_user
from portal.domain.principal import Principal, require_admin, require_staff
from portal.domain.support import BODY_MAX, STAFF_ROLES, SUBJECT_MAX, _announce, _sla_due
from portal.i18n import in_language, tr
from portal.integrations.mail_parse import ParsedMail, message_key, parse, strip_reply, summarize
from portal.models import (
    Attachment,
    Customer,
    InboundMail,
    InboundMailStatus,
    MailMessage,
    NotificationKind,
    Role,
    Ticket,
    TicketMessage,
    TicketStatus,
    User,
)
from portal.settings import get_settings

_OPEN = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    ticket_id: int | None = None
    ticket_number: str = ""
    detail: str = ""


class MailRejected(Exception):
    """A message we will not take in (the text is the reason admins see); it goes to the failure folder."""


@dataclasses.dataclass(frozen=True, slots=True)
class HeldReply:
    id: int
    from_address: str
    subject: str
    received_at: datetime
    preview: str


@dataclasses.dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    received_at: datetime
    from_address: str
    subject: str
    status: str
    reason: str
    ticket_number: str


# -- addresses --------------------------------------------------------------------------------------


def _support_parts() -> tuple[str, str]:
    local, _, domain = get_settings().support_address.lower().partition("@")
    return local, domain


def reply_address(token: str) -> str:
    local, domain = _support_parts()
    return f"{local}+{token}@{domain}"


def _token_from(recipients: list[str]) -> str:
    local, domain = _support_parts()
    for addr in recipients:
        box, _, dom = addr.partition("@")
        base, plus, tag = box.partition("+")
        if plus and base == local and dom == domain and tag:
            return tag[:40]
    return ""


def _is_ours(address: str) -> bool:
    local, domain = _support_parts()
    box, _, dom = address.lower().partition("@")
    mail_from = get_settings().mail_from.lower()
    return (dom == domain and box.partition("+")[0] == local) or f"<{address.lower()}>" in mail_from \
        or mail_from == address.lower()


def ensure_token(ticket: Ticket) -> str:
    if not ticket.reply_token:
        # 96 random bits, hex so it survives any mail system's handling of the local part.
        ticket.reply_token = secrets.token_hex(12)
    return ticket.reply_token


# -- inbound ----------------------------------------------------------------------------------------


def ingest(session: Session, *, raw: bytes) -> Outcome:
    """Take one message from the mailbox. MailRejected (or any error) leaves the caller to record
    the failure and file the message in the failure folder; nothing of it is kept here then."""
    try:
        parsed = parse(raw)
    except ValueError as exc:
        raise MailRejected(str(exc)) from exc
    key = message_key(parsed.message_id, raw)
    seen = session.exec(select(InboundMail).where(InboundMail.message_key == key)).first()
    if seen is not None and seen.status != InboundMailStatus.FAILED:
        return Outcome(status=InboundMailStatus.DUPLICATE, ticket_id=seen.ticket_id, detail=parsed.message_id)
    if seen is not None:
        session.delete(seen)  # a failure being tried again (an admin moved it back to the inbox)
        session.flush()
    row = InboundMail(message_key=key, message_id=parsed.message_id[:500], from_address=parsed.from_address[:320],
                      subject=parsed.subject[:300], size_bytes=len(raw))
    outcome = _route(session, parsed, raw, row)
    row.status = outcome.status
    row.reason = outcome.detail[:500]
    row.ticket_id = outcome.ticket_id
    session.add(row)
    session.flush()
    return outcome


def record_failure(session: Session, *, raw_or_headers: bytes, size: int, reason: str) -> None:
    """What admins see of a message that went to the failure folder."""
    summary = summarize(raw_or_headers)
    key = message_key(summary.message_id, raw_or_headers)
    row = session.exec(select(InboundMail).where(InboundMail.message_key == key)).first() or \
        InboundMail(message_key=key)
    row.message_id = summary.message_id[:500]
    row.from_address = summary.from_address[:320]
    row.subject = summary.subject[:300]
    row.size_bytes = size
    row.status = InboundMailStatus.FAILED
    row.reason = reason[:500]
    session.add(row)


def _route(session: Session, parsed: ParsedMail, raw: bytes, row: InboundMail) -> Outcome:
    s = get_settings()
    sender = parsed.from_address
    if _is_ours(sender):
        return Outcome(status=InboundMailStatus.IGNORED, detail="sent by the portal itself")
    if parsed.bounce is not None:
        return _bounce(session, parsed)
    rate = throttle.Rate(limit=s.support_email_per_sender_per_hour, window=timedelta(hours=1))
    if not throttle.take(session, f"rate:mail:{sender}"[:128], rate):
        raise MailRejected(f"over the hourly allowance of {rate.limit} messages from {sender}")
    ticket = _thread_ticket(session, parsed)
    if ticket is not None:
        if not _owns(session, ticket, sender):
            row.raw = raw
            row.ticket_id = ticket.id
            _note(session, ticket, sw.TICKET_LINES.write(sw.MAIL_HELD, sender=sender))
            events.emit(session, DomainEvent(topic=Topic.QUEUE, roles=STAFF_ROLES, data={"ticket_id": ticket.id}))
            return Outcome(status=InboundMailStatus.QUARANTINED, ticket_id=ticket.id, ticket_number=ticket.number,
                           detail=f"{sender} does not own {ticket.number}")
        return _reply(session, ticket, parsed)
    customer = _customer_for(session, parsed)
    if customer is None:
        return Outcome(status=InboundMailStatus.IGNORED, detail=f"unknown sender {sender}: strangers are refused")
    ticket = _open(session, customer, parsed)
    return Outcome(status=InboundMailStatus.TICKET, ticket_id=ticket.id, ticket_number=ticket.number)


def _thread_ticket(session: Session, parsed: ParsedMail) -> Ticket | None:
    ticket: Ticket | None = None
    token = _token_from(parsed.recipients)
    if token:
        ticket = session.exec(select(Ticket).where(Ticket.reply_token == token)).first()
    if ticket is None:
        ids = [i[:500] for i in (parsed.in_reply_to + parsed.references[::-1])][:50]
        if ids:
            msg = session.exec(select(TicketMessage).where(col(TicketMessage.email_message_id).in_(ids))
                               .order_by(col(TicketMessage.id).desc())).first()
            if msg is None:
                sent = session.exec(select(MailMessage).where(col(MailMessage.message_id).in_(ids),
                                                              col(MailMessage.ticket_message_id).is_not(None))).first()
                msg = session.get(TicketMessage, sent.ticket_message_id) if sent else None
            ticket = session.get(Ticket, msg.ticket_id) if msg else None
    # A merged ticket's replies belong to the one it went into.
    for _ in range(5):
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket


def _owns(session: Session, ticket: Ticket, sender: str) -> bool:
    if ticket.contact_email and ticket.contact_email.lower() == sender:
        return True
    user = session.exec(select(User).where(User.email == sender, User.customer_id == ticket.customer_id,
                                           User.is_active == True)).first()  # noqa: E712
    return user is not None


def _account_user(session: Session, sender: str) -> User | None:
    return session.exec(select(User).where(User.email == sender, User.role == Role.CUSTOMER,
                                           User.is_active == True)).first()  # noqa: E712


def _customer_for(session: Session, parsed: ParsedMail) -> Customer | None:
    sender = parsed.from_address
    user = _account_user(session, sender)
    if user is not None and user.customer_id is not None:
        return session.get(Customer, user.customer_id)
    known = session.exec(select(Customer).where(Customer.email == sender, col(Customer.closed_at).is_(None))
                         .order_by(col(Customer.guest), col(Customer.id))).first()
    if known is not None:
        return known
    if not get_settings().support_email_accept_strangers:
        return None
    guest = Customer(name=(parsed.from_name or sender)[:200], email=sender, guest=True,
                     number=f"tmp-{uuid.uuid4().hex[:24]}")
    session.add(guest)
    session.flush()
    guest.number = f"G-{10000 + (guest.id or 0)}"
    return guest


def _message(session: Session, ticket: Ticket, parsed: ParsedMail, body: str, *, user_id: int | None,
             now: datetime) -> TicketMessage:
    """The ticket message of a mail, its files checked like portal uploads (refused ones are named)."""
    notes: list[str] = []
    msg = TicketMessage(ticket_id=ticket.id or 0, author_user_id=user_id, author_kind="customer", body="",
                        via_email=True, email_message_id=parsed.message_id[:500] or None,
                        email_headers=parsed.headers_text, email_original=parsed.text, created_at=now)
    session.add(msg)
    session.flush()
    limit = get_settings().support_attachments_per_message
    for i, f in enumerate(parsed.files):
        if i >= limit:
            notes.append(f"{att.clean_filename(f.filename)}: more than {limit} files in one message")
            continue
        try:
            att.store_checked(session, customer_id=ticket.customer_id, user_id=user_id, filename=f.filename,
                              data=f.data, ticket_id=ticket.id, message_id=msg.id)
        except Invalid as exc:
            reason = {"too_large": "too large", "file_type": "not a type we accept, or not what its name says",
                      "empty_file": "empty"}.get(exc.detail, exc.detail)
            notes.append(f"{att.clean_filename(f.filename)}: {reason}")
    text = body[:BODY_MAX] or "(no text)"
    if notes:
        text += "\n\n[Files not accepted: " + "; ".join(notes) + "]"
    msg.body = text
    session.add(msg)
    return msg


def _open(session: Session, customer: Customer, parsed: ParsedMail, *, follow_up_of: Ticket | None = None,
          body: str | None = None) -> Ticket:
    now = utcnow()
    first_due, res_due = _sla_due(now, "normal")
    user = _account_user(session, parsed.from_address)
    subject = parsed.subject.strip()[:SUBJECT_MAX] or "(no subject)"
    ticket = Ticket(number=f"tmp-{uuid.uuid4().hex[:24]}", customer_id=customer.id or 0,
                    requester_user_id=user.id if user and user.customer_id == customer.id else None,
                    subject=subject, status=TicketStatus.NEW, channel="email", contact_email=parsed.from_address,
                    first_response_due_at=first_due, resolution_due_at=res_due, created_at=now, updated_at=now,
                    follow_up_of_id=follow_up_of.id if follow_up_of else None)
    ensure_token(ticket)
    session.add(ticket)
    session.flush()
    ticket.number = f"T-{60000 + (ticket.id or 0)}"
    msg = _message(session, ticket, parsed, parsed.text if body is None else body,
                   user_id=ticket.requester_user_id, now=now)
    if follow_up_of is not None:
        _note(session, ticket, sw.TICKET_LINES.write(sw.FOLLOW_UP, number=follow_up_of.number,
                                                    subject=follow_up_of.subject))
    audit.record(session, action="support.ticket_opened", user_id=ticket.requester_user_id,
                 customer_id=ticket.customer_id, target_type="ticket", target_id=ticket.id or "", channel="email")
    outbox.enqueue(session, kind="ticket.opened", customer_id=ticket.customer_id,
                   payload={"ticket": ticket.number, "subject": subject, "category": ticket.category,
                            "priority": ticket.priority, "channel": "email"})
    if not parsed.automated:
        with in_language(user.locale if user else None):  # the sender's language when they have an account
            _acknowledge(session, ticket, parsed, msg, has_account=user is not None)
    _announce(session, ticket)
    return ticket


def _acknowledge(session: Session, ticket: Ticket, parsed: ParsedMail, msg: TicketMessage, *,
                 has_account: bool) -> None:
    """Once per ticket, to a person (never a machine): the number, and the portal link for account holders."""
    from portal.integrations.mail import new_message_id

    s = get_settings()
    lines = [tr("Hello {name},", name=parsed.from_name) if parsed.from_name else tr("Hello,"), "",
             tr("Thank you for writing to {business}. We have opened ticket {number} (“{subject}”) and will "
                "answer soon.", business=s.portal_business_name, number=ticket.number, subject=ticket.subject), "",
             tr("To add anything, just reply to this email.")]
    if has_account:
        lines += ["", tr("You can also follow it in the portal: {link}",
                         link=f"{s.portal_public_url.rstrip('/')}/tickets/{ticket.id}")]
    lines += ["", f"— {s.portal_business_name}"]
    headers = _thread_headers(session, ticket, new_message_id())
    headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer this
    queue_mail(session, to=parsed.from_address, subject=f"[{ticket.number}] {ticket.subject}",
               body="\n".join(lines), kind="support_ack", headers=headers, ticket_message_id=msg.id)


def _reply(session: Session, ticket: Ticket, parsed: ParsedMail) -> Outcome:
    now = utcnow()
    s = get_settings()
    body = strip_reply(parsed.text)
    if ticket.status not in _OPEN:
        in_window = (ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
                     and now - ticket.resolved_at <= timedelta(days=s.support_reopen_days))
        if not in_window:
            customer = session.get(Customer, ticket.customer_id)
            assert customer is not None
            new = _open(session, customer, parsed, follow_up_of=ticket, body=body)
            return Outcome(status=InboundMailStatus.TICKET, ticket_id=new.id, ticket_number=new.number,
                           detail=f"follow-up of {ticket.number}")
        ticket.status = TicketStatus.OPEN
        ticket.resolved_at = None
        ticket.resolution_due_at = _sla_due(now, ticket.priority)[1]
        ticket.sla_breach_flagged_at = None
        _note(session, ticket, sw.TICKET_LINES.write(sw.REOPENED_BY_EMAIL), internal=False)
        outbox.enqueue(session, kind="ticket.reopened", customer_id=ticket.customer_id,
                       payload={"ticket": ticket.number})
    elif ticket.status == TicketStatus.PENDING:
        ticket.status = TicketStatus.OPEN
    user = _account_user(session, parsed.from_address)
    msg = _message(session, ticket, parsed, body, user_id=user.id if user and user.customer_id == ticket.customer_id
                   else None, now=now)
    ticket.updated_at = now
    session.add(ticket)
    outbox.enqueue(session, kind="ticket.customer_replied", customer_id=ticket.customer_id,
                   payload={"ticket": ticket.number, "channel": "email"})
    session.flush()
    _announce(session, ticket, message_id=msg.id)
    return Outcome(status=InboundMailStatus.REPLY, ticket_id=ticket.id, ticket_number=ticket.number)


def _note(session: Session, ticket: Ticket, text: str, *, internal: bool = True) -> None:
    session.add(TicketMessage(ticket_id=ticket.id or 0, author_kind="system", internal=internal, body=text,
                              created_at=utcnow()))


def _bounce(session: Session, parsed: ParsedMail) -> Outcome:
    assert parsed.bounce is not None
    ids = [i[:500] for i in parsed.bounce.original_message_ids]
    sent = session.exec(select(MailMessage).where(col(MailMessage.message_id).in_(ids))).all() if ids else []
    if not sent:
        return Outcome(status=InboundMailStatus.BOUNCE, detail="a bounce of no message we know")
    now = utcnow()
    ticket: Ticket | None = None
    for m in sent:
        m.bounced_at = now
        m.last_error = f"bounced: {parsed.bounce.diagnostic}"[:500]
        session.add(m)
        tm = session.get(TicketMessage, m.ticket_message_id) if m.ticket_message_id else None
        if tm is None:
            continue
        if tm.author_kind == "agent":
            tm.delivery_status = "undelivered"
            session.add(tm)
        ticket = session.get(Ticket, tm.ticket_id)
        if ticket is None:
            continue
        _note(session, ticket, sw.TICKET_LINES.write(sw.BOUNCED, address=m.to_address,
                                                    reason=parsed.bounce.diagnostic or sw.NO_REASON))
        staff = session.exec(select(User).where(col(User.role).in_(STAFF_ROLES), User.is_active == True)).all()  # noqa: E712
        for u in staff:
            if ticket.assignee_user_id in (None, u.id):
                notify_user(session, user=u, kind=NotificationKind.SUPPORT,
                            title=_bounce_title(m.to_address, ticket.number),
                            body=parsed.bounce.diagnostic, link=f"/agent/tickets/{ticket.id}")
        events.emit(session, DomainEvent(topic=Topic.QUEUE, roles=STAFF_ROLES, data={"ticket_id": ticket.id}))
    return Outcome(status=InboundMailStatus.BOUNCE, ticket_id=ticket.id if ticket else None,
                   ticket_number=ticket.number if ticket else "", detail=parsed.bounce.diagnostic)


def _bounce_title(address: str, number: str) -> Text:
    return lambda: tr("Email to {address} bounced ({number})", address=address, number=number)


# -- outbound ---------------------------------------------------------------------------------------


def _thread_headers(session: Session, ticket: Ticket, message_id: str) -> dict[str, str]:
    ids = [m for m in session.exec(select(TicketMessage.email_message_id).where(
        TicketMessage.ticket_id == ticket.id, col(TicketMessage.email_message_id).is_not(None))
        .order_by(col(TicketMessage.id))).all() if m]
    last_in = session.exec(select(TicketMessage.email_message_id).where(
        TicketMessage.ticket_id == ticket.id, col(TicketMessage.email_message_id).is_not(None),
        TicketMessage.via_email == True).order_by(col(TicketMessage.id).desc())).first()  # noqa: E712
    headers = {"Message-ID": message_id, "Reply-To": reply_address(ensure_token(ticket))}
    if ids:
        headers["References"] = " ".join(f"<{i}>" for i in ids[-20:])
        headers["In-Reply-To"] = f"<{last_in or ids[-1]}>"
    return headers


def email_reply(session: Session, *, ticket: Ticket, message: TicketMessage, agent_name: str) -> None:
    """An agent's answer to an email ticket goes to its contact, threaded with the conversation."""
    from portal.integrations.mail import new_message_id

    s = get_settings()
    mid = new_message_id()
    headers = _thread_headers(session, ticket, mid)
    message.email_message_id = mid.strip("<>")
    session.add(message)
    session.add(ticket)
    subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
    contact = _account_user(session, ticket.contact_email.lower())
    with in_language(contact.locale if contact else None):  # the contact's language when they have an account
        signature = agent_name or tr("Support")
        body = f"{message.body}\n\n— {signature}, {s.portal_business_name}\n" + \
            tr("Ticket {number}: reply to this email to answer.", number=ticket.number)
    queue_mail(session, to=ticket.contact_email, subject=f"{subject} [{ticket.number}]", body=body,
               kind="support_reply", headers=headers, ticket_message_id=message.id)


# -- agents -----------------------------------------------------------------------------------------


def message_headers(session: Session, *, principal: Principal, message_id: int) -> tuple[str, str]:
    """(headers, full original text) of a message that came by mail; staff only."""
    require_staff(principal)
    msg = session.get(TicketMessage, message_id) if isinstance(message_id, int) else None
    if msg is None or not msg.via_email:
        raise NotFound("message")
    return msg.email_headers, msg.email_original


def held_replies(session: Session, *, principal: Principal, ticket_id: int) -> list[HeldReply]:
    require_staff(principal)
    rows = session.exec(select(InboundMail).where(InboundMail.ticket_id == ticket_id,
                                                  InboundMail.status == InboundMailStatus.QUARANTINED)
                        .order_by(col(InboundMail.id))).all()
    out = []
    for r in rows:
        try:
            preview = strip_reply(parse(r.raw or b"").text)[:500]
        except ValueError:
            preview = ""
        out.append(HeldReply(id=r.id or 0, from_address=r.from_address, subject=r.subject,
                             received_at=r.created_at, preview=preview))
    return out


def decide_held(session: Session, *, principal: Principal, ticket_id: int, held_id: int, accept: bool) -> None:
    """An agent lets a held message into its ticket, or turns it away; either way it is decided once."""
    p = require_staff(principal)
    row = session.get(InboundMail, held_id) if isinstance(held_id, int) else None
    if row is None or row.ticket_id != ticket_id or row.status != InboundMailStatus.QUARANTINED:
        raise NotFound("held_message")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("ticket")
    now = utcnow()
    if accept:
        parsed = parse(row.raw or b"")
        msg = _message(session, ticket, parsed, f"[Sent by {parsed.from_address}, accepted by an agent]\n\n"
                       + strip_reply(parsed.text), user_id=None, now=now)
        session.flush()
        row.ticket_message_id = msg.id
        if ticket.status == TicketStatus.PENDING:
            ticket.status = TicketStatus.OPEN
        ticket.updated_at = now
        session.add(ticket)
    row.status = InboundMailStatus.ACCEPTED if accept else InboundMailStatus.REJECTED
    row.raw = None
    row.decided_by_user_id = p.user_id
    row.decided_at = now
    session.add(row)
    audit.record(session, action="support.held_mail_" + ("accepted" if accept else "rejected"), principal=p,
                 customer_id=ticket.customer_id, target_type="ticket", target_id=ticket.id or "",
                 sender=row.from_address)
    _announce(session, ticket)


def link_contact(session: Session, *, principal: Principal, ticket_id: int, customer_number: str) -> Ticket:
    """Move a guest contact's ticket to the customer account it belongs to."""
    p = require_staff(principal)
    ticket = session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None:
        raise NotFound("ticket")
    number = str(customer_number or "").strip().upper()[:32]
    if not number:
        raise Invalid("empty", field="customer")
    customer = session.exec(select(Customer).where(Customer.number == number, Customer.guest == False,  # noqa: E712
                                                   col(Customer.closed_at).is_(None))).first()
    if customer is None:
        raise Invalid("unknown_customer", field="customer")
    current = session.get(Customer, ticket.customer_id)
    if current is None or not current.guest:
        raise DomainError(ErrorCode.NOT_ALLOWED, "not_a_guest")
    old = ticket.customer_id
    ticket.customer_id = customer.id or 0
    ticket.updated_at = utcnow()
    session.add(ticket)
    for a in session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)).all():
        a.customer_id = ticket.customer_id
        session.add(a)
    _note(session, ticket, sw.TICKET_LINES.write(sw.LINKED, number=customer.number, name=customer.name,
                                                 agent=p.name or sw.AN_AGENT))
    audit.record(session, action="support.ticket_linked", principal=p, customer_id=ticket.customer_id,
                 target_type="ticket", target_id=ticket.id or "", from_customer=old)
    _announce(session, ticket)
    return ticket


def inbound_log(session: Session, *, principal: Principal, failures_only: bool = False,
                limit: int = 100) -> list[InboundRow]:
    """What the mailbox job did with each message, failures with their reason; admins only."""
    require_admin(principal)
    q = select(InboundMail, Ticket.number).join(Ticket, col(Ticket.id) == col(InboundMail.ticket_id), isouter=True)
    if failures_only:
        q = q.where(InboundMail.status == InboundMailStatus.FAILED)
    rows = session.exec(q.order_by(col(InboundMail.id).desc()).limit(max(1, min(limit, 500)))).all()
    return [InboundRow(id=r.id or 0, received_at=r.created_at, from_address=r.from_address, subject=r.subject,
                       status=r.status, reason=r.reason, ticket_number=number or "") for r, number in rows]
