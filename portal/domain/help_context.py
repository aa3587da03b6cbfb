"""Help that starts where the problem is: what a "Get help with this" link is about.

The link carries only a reference ("shipment:12"); everything the ticket form or the chat then
says about it is read here, from the customer's own rows (someone else's, or a made-up id, is
"not found", exactly like a missing one). Nothing from the address is ever taken as a fact.
What comes back are facts and codes: the situation ("shipment.late"), the category and
priority it deserves, the facts an agent needs, and the help articles that fit it. The UI
words the subject and body.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import kb
from portal.domain.errors import NotFound
from portal.domain.principal import Principal, require_customer
from portal.models import (
    ArticleStatus,
    Invoice,
    InvoiceStatus,
    KbArticle,
    Order,
    OrderLine,
    OrderStatus,
    Return,
    ReturnStatus,
    Shipment,
    ShipmentPublic,
    TrackingEvent,
    TrackingTag,
)

ABOUT_TYPES = ("shipment", "order", "invoice", "return")
_ABOUT = re.compile(r"^(shipment|order|invoice|return):([0-9]{1,12})$")
# A refund still not paid this many days after the return arrived is worth a higher priority.
REFUND_WAIT_DAYS = 5
LATE_HIGH_DAYS = 3
CATEGORY = {"shipment": "shipping", "order": "orders", "invoice": "billing", "return": "returns"}
# The help articles that answer each situation (the help center's slugs), best first; when an
# article is missing or unpublished, the help center's own search on the situation's words fills in.
ARTICLES: dict[str, tuple[tuple[str, ...], str]] = {
    "shipment.late": (("delayed-shipments", "lost-or-missing-parcel"), "parcel late delayed delivery"),
    "shipment.delayed": (("delayed-shipments",), "parcel delayed delivery date"),
    "shipment.attempt_failed": (("failed-delivery-and-redelivery",), "failed delivery attempt redelivery"),
    "shipment.problem": (("lost-or-missing-parcel", "delayed-shipments"), "parcel problem delivery exception"),
    "shipment.customs": (("international-shipping-and-customs",), "customs parcel held"),
    "shipment.delivered": (("missing-item-in-order", "damaged-or-faulty-items"), "parcel delivered not received"),
    "shipment.on_its_way": (("track-your-order", "shipping-costs-and-delivery-times"), "track parcel delivery"),
    "order.not_shipped": (("order-statuses-explained", "cancel-an-order"), "order status not shipped"),
    "order.on_its_way": (("track-your-order", "delayed-shipments"), "track order delivery"),
    "order.delivered": (("start-a-return", "missing-item-in-order"), "return exchange missing item"),
    "order.cancelled": (("cancel-an-order", "how-refunds-work"), "cancelled order refund"),
    "order.returned": (("how-refunds-work",), "returned order refund"),
    "invoice.overdue": (("pay-an-invoice-online", "failed-payments"), "pay overdue invoice"),
    "invoice.open": (("pay-an-invoice-online", "payment-methods-and-saved-cards"), "pay invoice"),
    "invoice.paid": (("download-invoices", "vat-and-business-invoices"), "invoice copy vat"),
    "invoice.void": (("account-statements",), "cancelled invoice credit note"),
    "return.refund_pending": (("how-refunds-work", "store-credit"), "refund return received"),
    "return.in_progress": (("start-a-return", "return-window-and-conditions"), "return label send back"),
    "return.refunded": (("how-refunds-work", "store-credit"), "refund return"),
    "return.rejected": (("return-window-and-conditions",), "return rejected conditions"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Money:
    cents: int
    currency: str


@dataclasses.dataclass(frozen=True, slots=True)
class Situation:
    about: str  # the reference again, as checked: "shipment:12"
    context_type: str
    context_id: int
    code: str  # "shipment.late", "invoice.overdue", ...
    reference: str  # what people call it: "DHL TRK000000001", "FH-12608", "INV-2026-0042"
    subtag: str  # a shipment's carrier detail code ("Exception_013"), else ""
    category: str
    priority: str
    days: int  # how late, or how long a refund has waited, where the code says so
    # (fact code, value): values are str, int, datetime or Money, formatted by the UI
    facts: tuple[tuple[str, Any], ...]


def parse_about(raw: Any) -> tuple[str, int] | None:
    """("shipment", 12) from "shipment:12"; anything else is None."""
    m = _ABOUT.match(raw) if isinstance(raw, str) else None
    return (m.group(1), int(m.group(2))) if m else None


def resolve(session: Session, *, principal: Principal, about: str) -> Situation:
    customer_id = require_customer(principal)
    parsed = parse_about(about)
    if parsed is None:
        raise NotFound("context")
    kind, ident = parsed
    model: Any = {"shipment": Shipment, "order": Order, "invoice": Invoice, "return": Return}[kind]
    row = session.get(model, ident)
    # Someone else's is "not found", exactly like one that does not exist.
    if row is None or row.customer_id != customer_id:
        raise NotFound("context")
    builders: dict[str, Callable[[Session, Any], Situation]] = {
        "shipment": _shipment, "order": _order, "invoice": _invoice, "return": _return}
    return builders[kind](session, row)


def _situation(row: Any, kind: str, code: str, reference: str, facts: list[tuple[str, Any]], *,
               priority: str = "normal", days: int = 0, subtag: str = "") -> Situation:
    return Situation(about=f"{kind}:{row.id}", context_type=kind, context_id=row.id or 0, code=code,
                     reference=reference, subtag=subtag, category=CATEGORY[kind], priority=priority, days=days,
                     facts=tuple((k, v) for k, v in facts if v not in (None, "")))


def _days_between(later: datetime, earlier: datetime) -> int:
    return (later.date() - earlier.date()).days


def shipment_code(s: Shipment | ShipmentPublic, now: datetime) -> tuple[str, int]:
    """What is going on with a shipment, and by how many days it is late (if it is)."""
    promised = s.original_expected_delivery or s.expected_delivery_end
    if s.tag == TrackingTag.EXCEPTION:
        return ("shipment.customs" if s.subtag == "Exception_004" else "shipment.problem"), 0
    if s.tag == TrackingTag.ATTEMPT_FAIL:
        return "shipment.attempt_failed", 0
    if s.delivered_at is not None or s.tag == TrackingTag.DELIVERED:
        return "shipment.delivered", 0
    if promised is not None and now.date() > promised.date():
        return "shipment.late", _days_between(now, promised)
    end, first = s.expected_delivery_end, s.original_expected_delivery
    if end is not None and first is not None and end.date() > first.date():
        return "shipment.delayed", _days_between(end, first)
    return "shipment.on_its_way", 0


def _shipment(session: Session, s: Shipment) -> Situation:
    now = utcnow()
    code, days = shipment_code(s, now)
    order = session.get(Order, s.order_id)
    last = session.exec(select(TrackingEvent).where(TrackingEvent.shipment_id == s.id)
                        .order_by(col(TrackingEvent.occurred_at).desc(), col(TrackingEvent.id).desc())).first()
    priority = "high" if code in ("shipment.problem", "shipment.customs") or (
        code == "shipment.late" and days >= LATE_HIGH_DAYS) else "normal"
    carrier = s.carrier_name or s.carrier.upper()
    facts: list[tuple[str, Any]] = [
        ("tracking", f"{carrier} {s.tracking_number}"), ("order", order.number if order else ""), ("tag", s.tag),
        ("carrier_says", s.subtag_message), ("expected", s.expected_delivery_end),
        ("originally_expected", s.original_expected_delivery), ("delivered", s.delivered_at),
    ]
    if last is not None:
        facts.append(("last_scan", f"{last.message} {('(' + last.location + ')') if last.location else ''}".strip()))
        facts.append(("last_scan_at", last.occurred_at))
    return _situation(s, "shipment", code, f"{carrier} {s.tracking_number}", facts, priority=priority, days=days,
                      subtag=s.subtag)


def _order(session: Session, o: Order) -> Situation:
    code = {OrderStatus.CANCELLED: "order.cancelled", OrderStatus.RETURNED: "order.returned",
            OrderStatus.DELIVERED: "order.delivered", OrderStatus.SHIPPED: "order.on_its_way",
            OrderStatus.OUT_FOR_DELIVERY: "order.on_its_way"}.get(o.status, "order.not_shipped")  # type: ignore[call-overload]
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == o.id).order_by(col(OrderLine.id))
                         .limit(6)).all()
    items = ", ".join(f"{ln.quantity} × {ln.name}" for ln in lines[:5]) + (", …" if len(lines) > 5 else "")
    return _situation(o, "order", code, o.number, [
        ("order", o.number), ("placed", o.placed_at), ("order_status", o.status),
        ("total", Money(o.total_cents, o.currency)), ("items", items)])


def _invoice(_session: Session, i: Invoice) -> Situation:
    now = utcnow()
    overdue = i.status == InvoiceStatus.OPEN and i.due_at is not None and i.due_at < now
    code = "invoice.overdue" if overdue else {InvoiceStatus.PAID: "invoice.paid", InvoiceStatus.VOID: "invoice.void"}\
        .get(i.status, "invoice.open")  # type: ignore[call-overload]
    return _situation(i, "invoice", code, i.number, [
        ("invoice", i.number), ("issued", i.issued_at), ("due", i.due_at), ("invoice_status", i.status),
        ("total", Money(i.total_cents, i.currency)),
        ("balance", Money(i.total_cents - i.amount_paid_cents, i.currency) if i.status == InvoiceStatus.OPEN
         else None)], days=_days_between(now, i.due_at) if overdue and i.due_at else 0)


def _return(session: Session, r: Return) -> Situation:
    now = utcnow()
    order = session.get(Order, r.order_id)
    days = 0
    if r.status == ReturnStatus.REFUNDED:
        code = "return.refunded"
    elif r.status in (ReturnStatus.REJECTED, ReturnStatus.CANCELLED):
        code = "return.rejected"
    elif r.status == ReturnStatus.RECEIVED:
        code = "return.refund_pending"
        days = _days_between(now, r.received_at or r.updated_at)
    else:
        code = "return.in_progress"
    return _situation(r, "return", code, r.number, [
        ("return", r.number), ("order", order.number if order else ""), ("requested", r.created_at),
        ("return_status", r.status), ("reason", r.reason), ("received", r.received_at),
        ("refund", Money(r.refund_cents, r.currency) if r.refund_cents else None), ("refund_method", r.refund_method),
        ("refunded", r.refunded_at)], days=days, priority="high" if days > REFUND_WAIT_DAYS else "normal")


def suggested_article_ids(session: Session, *, code: str, limit: int = 3) -> list[int]:
    """The published help articles for a situation, best first."""
    slugs, words = ARTICLES.get(code, ((), ""))
    rows = session.exec(select(KbArticle.id, KbArticle.slug).where(col(KbArticle.slug).in_(slugs),
                                                                   KbArticle.status == ArticleStatus.PUBLISHED)
                        ).all() if slugs else []
    by_slug = {slug: aid for aid, slug in rows}
    ids = [by_slug[s] for s in slugs if s in by_slug]
    if len(ids) < limit and words:
        found, _ = kb.rank(session, words, limit=limit)
        ids += [i for i in found if i not in ids]
    return [i for i in ids if i is not None][:limit]
