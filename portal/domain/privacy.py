"""A customer's own data: everything the portal holds about them as one archive, and
closing the account. Both are audited; the business hears of both through the outbox.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

from sqlmodel import Session, SQLModel, col, or_, select

from portal.concurrency import in_process
from portal.db import utcnow
from portal.domain import audit, auth, outbox, throttle
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.principal import Principal, require_customer
from portal.i18n import in_language, tr
from portal.models import (
    Address,
    Attachment,
    AuditEvent,
    AuthSession,
    CreditEntry,
    Customer,
    CustomerOffer,
    Document,
    Invoice,
    InvoiceLine,
    Notification,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Return,
    ReturnLine,
    Shipment,
    Ticket,
    TicketMessage,
    TrackingEvent,
    User,
    UserPreference,
)
from portal.settings import get_settings

# Never exported: secrets and credentials, even hashed ones.
_SECRET_FIELDS = {"password_hash", "totp_secret", "totp_last_step", "token_hash", "storage_key", "embedding"}


def _rows(items: Any) -> list[dict[str, Any]]:
    out = []
    for item in items:
        data = item.model_dump() if isinstance(item, SQLModel) else dict(item)
        out.append({k: v for k, v in data.items() if k not in _SECRET_FIELDS})
    return out


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100] or "file"


def build_export(session: Session, *, principal: Principal,
                 request: audit.RequestInfo = audit.NO_REQUEST) -> IO[bytes]:
    """A zip of JSON files and the customer's own document and attachment files, in a
    temporary file (rewound) the caller streams and closes. The rows are read here; the zip is
    written by a document process (`in_process`: JSON with indents is pure Python, and would hold
    the interpreter lock the event loop needs)."""
    return _build_export(session, principal=principal, request=request)


def _write_zip(path: str, readme: str, files: dict[str, list[dict[str, Any]]],
               stored: list[tuple[str, str]]) -> None:
    """The archive, at `path`: README.txt, one JSON file per table, then the stored files
    (server path, name in the archive)."""
    with open(path, "wb") as out, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", readme + "\n")
        for name, rows in files.items():
            zf.writestr(name, json.dumps(rows, default=str, indent=2, ensure_ascii=False))
        for source, arcname in stored:
            zf.write(source, arcname)


def _build_export(session: Session, *, principal: Principal, request: audit.RequestInfo) -> IO[bytes]:
    customer_id = require_customer(principal)
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer")
    users = session.exec(select(User).where(User.customer_id == customer_id)).all()
    user_ids = [u.id for u in users]
    order_ids = [o.id for o in session.exec(select(Order).where(Order.customer_id == customer_id)).all()]
    ticket_ids = [t.id for t in session.exec(select(Ticket).where(Ticket.customer_id == customer_id)).all()]
    invoice_ids = [i.id for i in session.exec(select(Invoice).where(Invoice.customer_id == customer_id)).all()]
    return_ids = [r.id for r in session.exec(select(Return).where(Return.customer_id == customer_id)).all()]
    shipment_ids = [s.id for s in session.exec(select(Shipment).where(Shipment.customer_id == customer_id)).all()]

    def q(model: Any, *where: Any) -> list[dict[str, Any]]:
        return _rows(session.exec(select(model).where(*where).order_by(*model.__table__.primary_key)).all())

    files: dict[str, list[dict[str, Any]]] = {
        "profile.json": _rows([customer]) + _rows(users),
        "preferences.json": q(UserPreference, col(UserPreference.user_id).in_(user_ids)),
        "addresses.json": q(Address, Address.customer_id == customer_id),
        "orders.json": q(Order, Order.customer_id == customer_id),
        "order_lines.json": q(OrderLine, col(OrderLine.order_id).in_(order_ids)),
        "order_events.json": q(OrderEvent, col(OrderEvent.order_id).in_(order_ids)),
        "shipments.json": q(Shipment, Shipment.customer_id == customer_id),
        "tracking_events.json": q(TrackingEvent, col(TrackingEvent.shipment_id).in_(shipment_ids)),
        "returns.json": q(Return, Return.customer_id == customer_id),
        "return_lines.json": q(ReturnLine, col(ReturnLine.return_id).in_(return_ids)),
        "tickets.json": q(Ticket, Ticket.customer_id == customer_id),
        # Staff's internal notes are the business's own working notes, not the customer's data.
        "ticket_messages.json": q(TicketMessage, col(TicketMessage.ticket_id).in_(ticket_ids),
                                  TicketMessage.internal == False),  # noqa: E712
        "invoices.json": q(Invoice, Invoice.customer_id == customer_id),
        "invoice_lines.json": q(InvoiceLine, col(InvoiceLine.invoice_id).in_(invoice_ids)),
        "payments.json": q(Payment, Payment.customer_id == customer_id),
        "store_credit.json": q(CreditEntry, CreditEntry.customer_id == customer_id),
        "documents.json": q(Document, Document.customer_id == customer_id),
        "attachments.json": q(Attachment, Attachment.customer_id == customer_id),
        "notifications.json": q(Notification, col(Notification.user_id).in_(user_ids)),
        "offers.json": q(CustomerOffer, CustomerOffer.customer_id == customer_id),
        "sessions.json": q(AuthSession, col(AuthSession.user_id).in_(user_ids)),
        "audit_trail.json": q(AuditEvent, or_(AuditEvent.customer_id == customer_id,
                                              col(AuditEvent.actor_user_id).in_(user_ids))),
    }
    root = get_settings().files_dir.resolve()
    with in_language(principal.locale):  # the person downloading reads it
        readme = tr("Everything {business}'s customer portal holds about customer {number}, exported {when}.",
                    business=get_settings().portal_business_name, number=customer.number,
                    when=utcnow().isoformat())
    stored: list[tuple[str, str | None, int | None]] = [
        ("documents", d.storage_key, d.id) for d in session.exec(
            select(Document).where(Document.customer_id == customer_id)).all()]
    stored += [("attachments", a.storage_key, a.id) for a in session.exec(
        select(Attachment).where(Attachment.customer_id == customer_id)).all()]
    filenames = {("documents", d.id): d.filename for d in session.exec(
        select(Document).where(Document.customer_id == customer_id)).all()}
    filenames |= {("attachments", a.id): a.filename for a in session.exec(
        select(Attachment).where(Attachment.customer_id == customer_id)).all()}
    sources: list[tuple[str, str]] = []
    for folder, key, row_id in stored:
        if not key:
            continue
        path = (root / key).resolve()
        # Keys are server-chosen, but a file outside the private folder is never read.
        if root not in path.parents or not path.is_file():
            continue
        sources.append((str(path),
                        f"{folder}/{row_id}-{_safe_name(filenames.get((folder, row_id), '') or Path(key).name)}"))
    fd, name = tempfile.mkstemp(prefix="portal-export-", suffix=".zip")
    os.close(fd)
    try:
        in_process(_write_zip, name, readme, files, sources)
        out = open(name, "rb")  # noqa: SIM115 - the caller closes it
    finally:
        os.unlink(name)  # the open file stays readable; nothing is left behind when it is closed
    audit.record(session, action="privacy.exported", principal=principal, target_type="customer",
                 target_id=customer_id, request=request)
    outbox.enqueue(session, kind="privacy.exported", customer_id=customer_id,
                   payload={"customer_number": customer.number, "user_id": principal.user_id})
    return out


def close_account(session: Session, *, principal: Principal, password: str, confirm: str,
                  request: audit.RequestInfo = audit.NO_REQUEST) -> None:
    """Close the customer's account: every user of it is signed out and cannot sign in again.
    The business is told (outbox) and erases or keeps records as the law requires."""
    customer_id = require_customer(principal)
    user = session.get(User, principal.user_id)
    customer = session.get(Customer, customer_id)
    if user is None or customer is None or user.customer_id != customer_id:
        raise NotFound("account")
    if not isinstance(confirm, str) or confirm.strip().upper() != "CLOSE":
        raise Invalid(tr("Type CLOSE to confirm."), field="confirm")
    key = throttle.account_key(user.email)
    if throttle.is_blocked(session, key):
        raise DomainError(ErrorCode.THROTTLED)
    if not isinstance(password, str) or len(password) > 1024 or not auth.verify_password(user.password_hash,
                                                                                           password):
        throttle.failed_check(throttles=((key, throttle.ACCOUNT),), action="account.close_failed",
                              principal=principal, request=request)
        raise Invalid(tr("Your password is not correct."), field="password")
    now = utcnow()
    customer.closed_at = now
    session.add(customer)
    users = session.exec(select(User).where(User.customer_id == customer_id)).all()
    for u in users:
        u.closed_at = now
        u.is_active = False
        session.add(u)
    for row in session.exec(select(AuthSession).where(col(AuthSession.user_id).in_([u.id for u in users]),
                                                      col(AuthSession.revoked_at).is_(None))).all():
        row.revoked_at = now
        row.revoked_reason = "account_closed"
        session.add(row)
    audit.record(session, action="account.closed", principal=principal, target_type="customer",
                 target_id=customer_id, request=request)
    outbox.enqueue(session, kind="account.closed", customer_id=customer_id,
                   payload={"customer_number": customer.number, "external_id": customer.external_id,
                            "closed_at": now.isoformat(), "closed_by_user_id": principal.user_id})
