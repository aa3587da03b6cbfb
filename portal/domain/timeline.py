"""One timeline of everything that happened to a customer: orders, shipments, returns, invoices
and payments, tickets and chats, documents, and the person's own account security events.

Read-only and scoped to the principal's customer (security events: to the person themselves,
never a colleague's sign-ins nor what staff did). It reads the existing tables, one query per
source whatever the number of entries: each source returns at most `limit + 1` of its newest
rows, so the newest `limit` of all sources together are among them, and "show more" asks again
with a larger limit. The entries are facts (codes, numbers, amounts); the UI words them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import desc, func, or_
from sqlmodel import Session, col, select

from portal.domain.errors import Invalid
from portal.domain.order_wording import event_text
from portal.domain.orders import _escape_like
from portal.domain.principal import Principal, require_customer
from portal.models import (
    AuditEvent,
    Conversation,
    ConversationMessage,
    Document,
    DocumentStatus,
    Invoice,
    Order,
    OrderEvent,
    Payment,
    Return,
    Shipment,
    Ticket,
    TicketMessage,
    TrackingEvent,
)

KINDS = ("orders", "shipments", "returns", "billing", "support", "documents", "security")
MAX_LIMIT = 200
MAX_QUERY = 100
# The person's own account security events, from the audit log.
SECURITY_ACTIONS = ("auth.login", "auth.login_failed", "auth.logout", "auth.password_changed", "auth.password_reset",
                    "auth.email_verified", "auth.sso_linked", "auth.sso_unlinked", "mfa.enabled", "mfa.disabled",
                    "mfa.recovery_codes_regenerated", "mfa.recovery_code_used", "session.revoked",
                    "session.revoked_all", "account.closed")
# Order history rows shown otherwise: the tracking's (as the carrier's checkpoint) and "placed" (from
# the order itself, which every order has, history or not).
_TRACKING_ORDER_EVENTS = ("out_for_delivery", "delivered", "ready_for_pickup", "delivery_attempt_failed",
                          "delivery_exception", "returned_to_sender", "placed")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    key: str  # unique across sources, e.g. "checkpoint:41"
    kind: str  # one of KINDS (what the filter selects)
    action: str  # what happened, e.g. "order.placed", "shipment.checkpoint", "payment.failed"
    at: datetime
    subject: str  # the number people know it by: order, tracking, invoice, ticket number; a title
    status: str = ""  # the record's status or tag, where the action does not say it
    text: str = ""  # the record's own words: a checkpoint's message, a ticket's subject
    place: str = ""  # a checkpoint's location, a sign-in's address
    amount_cents: int | None = None
    currency: str = "EUR"
    link: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Timeline:
    entries: list[Entry]
    has_more: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Ctx:
    customer_id: int
    user_id: int
    like: str  # "" or an escaped ILIKE pattern
    limit: int

    def search(self, *columns: Any) -> Any:
        return or_(*(col(c).ilike(self.like, escape="\\") for c in columns))


def _bounded(ctx: _Ctx, stmt: Any, at: Any, *search: Any) -> Any:
    if ctx.like and search:
        stmt = stmt.where(ctx.search(*search))
    return stmt.order_by(desc(at)).limit(ctx.limit + 1)


# -- sources: each one query, newest first, at most limit + 1 rows -----------------------------------


def _orders(db: Session, c: _Ctx) -> list[Entry]:
    placed = db.exec(_bounded(c, select(Order).where(Order.customer_id == c.customer_id), Order.placed_at,
                              Order.number)).all()
    out = [Entry(key=f"order:{o.id}", kind="orders", action="order.placed", at=o.placed_at, subject=o.number,
                 amount_cents=o.total_cents, currency=o.currency, link=f"/orders/{o.id}") for o in placed]
    rows = db.exec(_bounded(c, select(OrderEvent, Order.number).join(Order, col(Order.id) == OrderEvent.order_id)
                            .where(Order.customer_id == c.customer_id,
                                   col(OrderEvent.kind).not_in(_TRACKING_ORDER_EVENTS)),
                            OrderEvent.created_at, Order.number, OrderEvent.message)).all()
    out += [Entry(key=f"order_event:{e.id}", kind="orders", action=f"order.{e.kind}", at=e.created_at,
                  subject=number, text=event_text(e.kind, e.data, e.message), link=f"/orders/{e.order_id}")
            for e, number in rows]
    return out


def _shipments(db: Session, c: _Ctx) -> list[Entry]:
    rows = db.exec(_bounded(c, select(TrackingEvent, Shipment).join(Shipment,
                                                                    col(Shipment.id) == TrackingEvent.shipment_id)
                            .where(Shipment.customer_id == c.customer_id), TrackingEvent.occurred_at,
                            Shipment.tracking_number, TrackingEvent.message, TrackingEvent.location)).all()
    return [Entry(key=f"checkpoint:{e.id}", kind="shipments", action="shipment.checkpoint", at=e.occurred_at,
                  subject=f"{s.carrier_name or s.carrier.upper()} {s.tracking_number}", status=e.tag, text=e.message,
                  place=e.location, link=f"/shipments/{s.id}") for e, s in rows]


def _returns(db: Session, c: _Ctx) -> list[Entry]:
    out: list[Entry] = []
    for action, name in (("return.requested", "created_at"), ("return.received", "received_at"),
                         ("return.refunded", "refunded_at")):
        at = getattr(Return, name)
        rows = db.exec(_bounded(c, select(Return).where(Return.customer_id == c.customer_id, col(at).is_not(None)),
                                at, Return.number, Return.reason)).all()
        out += [Entry(key=f"{action}:{r.id}", kind="returns", action=action, at=getattr(r, name),
                      subject=r.number, status=r.status, text=r.reason if action == "return.requested" else "",
                      amount_cents=r.refund_cents if action == "return.refunded" else None, currency=r.currency,
                      link=f"/orders/{r.order_id}") for r in rows]
    return out


def _billing(db: Session, c: _Ctx) -> list[Entry]:
    invoices = db.exec(_bounded(c, select(Invoice).where(Invoice.customer_id == c.customer_id), Invoice.issued_at,
                                Invoice.number)).all()
    out = [Entry(key=f"invoice:{i.id}", kind="billing", action=f"{i.kind}.issued", at=i.issued_at, subject=i.number,
                 status=i.status, amount_cents=i.total_cents, currency=i.currency,
                 link=f"/billing/invoices/{i.id}") for i in invoices]
    when = func.coalesce(Payment.completed_at, Payment.created_at)
    pays = db.exec(_bounded(c, select(Payment, Invoice.number, when)
                            .join(Invoice, col(Invoice.id) == Payment.invoice_id, isouter=True)
                            .where(Payment.customer_id == c.customer_id), when,
                            Invoice.number, Payment.method_label)).all()
    out += [Entry(key=f"payment:{p.id}", kind="billing", action=f"payment.{p.status}", at=at, subject=number or "",
                  status=p.status, text=p.failure_reason or p.method_label, amount_cents=p.amount_cents,
                  currency=p.currency, link=f"/billing/invoices/{p.invoice_id}" if p.invoice_id else "/billing")
            for p, number, at in pays]
    return out


def _support(db: Session, c: _Ctx) -> list[Entry]:
    out: list[Entry] = []
    for action, name in (("ticket.opened", "created_at"), ("ticket.resolved", "resolved_at")):
        at = getattr(Ticket, name)
        rows = db.exec(_bounded(c, select(Ticket).where(Ticket.customer_id == c.customer_id, col(at).is_not(None)),
                                at, Ticket.number, Ticket.subject)).all()
        out += [Entry(key=f"{action}:{t.id}", kind="support", action=action, at=getattr(t, name),
                      subject=t.number, status=t.status, text=t.subject, link=f"/tickets/{t.id}") for t in rows]
    # Replies the customer received; internal notes never.
    replies = db.exec(_bounded(c, select(TicketMessage, Ticket).join(Ticket, col(Ticket.id) == TicketMessage.ticket_id)
                               .where(Ticket.customer_id == c.customer_id, TicketMessage.internal == False,  # noqa: E712
                                      TicketMessage.author_kind == "agent"),
                               TicketMessage.created_at, Ticket.number, Ticket.subject, TicketMessage.body)).all()
    out += [Entry(key=f"reply:{m.id}", kind="support", action="ticket.replied", at=m.created_at, subject=t.number,
                  text=t.subject, link=f"/tickets/{t.id}") for m, t in replies]
    chats_q = select(Conversation).where(Conversation.customer_id == c.customer_id)
    if c.like:
        said = select(ConversationMessage.conversation_id).where(c.search(ConversationMessage.body))
        chats_q = chats_q.where(col(Conversation.id).in_(said))
    chats = db.exec(_bounded(c, chats_q, Conversation.started_at)).all()
    out += [Entry(key=f"chat:{v.id}", kind="support", action="chat.started", at=v.started_at, subject="",
                  status=v.status, link=f"/tickets/{v.ticket_id}" if v.ticket_id else "/support") for v in chats]
    return out


def _documents(db: Session, c: _Ctx) -> list[Entry]:
    added = db.exec(_bounded(c, select(Document).where(Document.customer_id == c.customer_id), Document.created_at,
                             Document.title)).all()
    out = [Entry(key=f"document:{d.id}", kind="documents",
                 action="document.requested" if d.status == DocumentStatus.REQUESTED else "document.added",
                 at=d.created_at, subject=d.title, status=d.status, link="/documents") for d in added]
    signed = db.exec(_bounded(c, select(Document).where(Document.customer_id == c.customer_id,
                                                        col(Document.signed_at).is_not(None)),
                              Document.signed_at, Document.title)).all()
    out += [Entry(key=f"signed:{d.id}", kind="documents", action="document.signed", at=d.signed_at or d.created_at,
                  subject=d.title, link="/documents") for d in signed]
    return out


def _security(db: Session, c: _Ctx) -> list[Entry]:
    # The person's own: what they did or what was done to their sign-in, never a colleague's.
    rows = db.exec(_bounded(c, select(AuditEvent).where(AuditEvent.actor_user_id == c.user_id,
                                                        col(AuditEvent.action).in_(SECURITY_ACTIONS)),
                            AuditEvent.created_at, AuditEvent.action, AuditEvent.ip_address)).all()
    return [Entry(key=f"audit:{a.id}", kind="security", action=a.action, at=a.created_at, subject="",
                  status=a.outcome, text=a.user_agent, place=a.ip_address, link="/account/security") for a in rows]


_SOURCES: dict[str, Callable[[Session, _Ctx], list[Entry]]] = {
    "orders": _orders, "shipments": _shipments, "returns": _returns, "billing": _billing, "support": _support,
    "documents": _documents, "security": _security,
}


def timeline(session: Session, *, principal: Principal, kinds: tuple[str, ...] = (), query: str = "",
             limit: int = 20) -> Timeline:
    """The newest `limit` entries of the chosen kinds (all when none), matching `query`."""
    customer_id = require_customer(principal)
    if not isinstance(kinds, (tuple, list)) or any(k not in KINDS for k in kinds):
        raise Invalid("kind", field="kind")
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise Invalid("too_long", field="query")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", field="limit")
    text = " ".join(query.split())
    ctx = _Ctx(customer_id=customer_id, user_id=principal.user_id,
               like=f"%{_escape_like(text)}%" if text else "", limit=limit)
    entries: list[Entry] = []
    for kind in (kinds or KINDS):
        entries += _SOURCES[kind](session, ctx)
    entries.sort(key=lambda e: (e.at, e.key), reverse=True)
    return Timeline(entries=entries[:limit], has_more=len(entries) > limit)
