"""Support by email in tests: deliver corpus messages into the real Dovecot and read them as the job does."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from portal.jobs.mail_fetch import FetchReport, fetch_once
from portal.models import InboundMail, MailMessage, Ticket, TicketMessage
from tests.support.imap import Mailbox

SUPPORT = "support@fernhill.example"


def new_id(tag: str = "msg") -> str:
    return f"{tag}.{uuid.uuid4().hex}@mail.example.com"


def deliver(box: Mailbox, name: str, *, sender: str, **fields: str) -> str:
    """A corpus message from `sender` to the support address, appended to INBOX; its Message-ID."""
    mid = fields.pop("message_id", "") or new_id()
    box.deliver(name, **{"from": sender, "to": SUPPORT, "message_id": mid, **fields})
    return mid


def fetch() -> FetchReport:
    return fetch_once()


def tickets(db: Session) -> list[Ticket]:
    db.expire_all()
    return list(db.exec(select(Ticket).order_by(col(Ticket.id))).all())


def messages(db: Session, ticket: Ticket) -> list[TicketMessage]:
    db.expire_all()
    return list(db.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
                        .order_by(col(TicketMessage.id))).all())


def mail_to(db: Session, address: str, kind: str = "") -> list[MailMessage]:
    db.expire_all()
    q = select(MailMessage).where(MailMessage.to_address == address)
    if kind:
        q = q.where(MailMessage.kind == kind)
    return list(db.exec(q.order_by(col(MailMessage.id))).all())


def inbound(db: Session) -> list[InboundMail]:
    db.expire_all()
    return list(db.exec(select(InboundMail).order_by(col(InboundMail.id))).all())
