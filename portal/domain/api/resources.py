"""Upserts and lists for the business's systems. Every write is keyed by a natural key (so
repeating it changes nothing), announces itself to open browsers and is audited as "api"."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, func, select

from portal.db import utcnow
from portal.domain import audit
from portal.domain.api import schemas as s
from portal.domain.api.keys import ApiCaller, require_scope
from portal.domain.auth import hash_token, new_token, normalize_email
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic, emit
from portal.domain.mail import queue_mail
from portal.models import (
    ArticleStatus,
    Customer,
    Document,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    KbArticle,
    KbCategory,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentStatus,
    ReturnLine,
    Role,
    Shipment,
    TokenPurpose,
    User,
    UserToken,
)
from portal.settings import get_settings

MAX_TOTAL = 2_000_000_000  # PostgreSQL integer columns
INVITE_VALID = timedelta(days=7)
MAX_FILE_BYTES = 20 * 1024 * 1024
CARRIER_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
TRACKING_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
T = TypeVar("T", bound=SQLModel)


class Conflict(DomainError):
    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(ErrorCode.CONFLICT, detail, **data)


# Cursors -----------------------------------------------------------------------------------

def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor is not one this API returned", field="cursor") from None
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**31:
        raise Invalid("cursor is not one this API returned", field="cursor")
    return after


def _page(session: Session, model: type[T], *, cursor: str | None, limit: int,
          where: Sequence[Any] = ()) -> tuple[list[T], str | None]:
    after = decode_cursor(cursor)
    limit = max(1, min(int(limit), 200))
    id_col = col(model.id)  # type: ignore[attr-defined]
    q = select(model).where(id_col > after, *where).order_by(id_col).limit(limit + 1)
    rows = list(session.exec(q).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)  # type: ignore[attr-defined]


def _audit(session: Session, caller: ApiCaller, action: str, *, target_type: str, target_id: str | int,
           customer_id: int | None, **data: Any) -> None:
    audit.record(session, action=action, principal=caller.principal, customer_id=customer_id,
                 target_type=target_type, target_id=target_id, api_key=caller.prefix, **data)


def _customer_by_external(session: Session, external_id: str) -> Customer:
    c = session.exec(select(Customer).where(Customer.external_id == external_id)).first()
    if c is None:
        raise NotFound("customer", field="customer_external_id")
    return c


def _order_by_number(session: Session, number: str, *, field: str = "order_number") -> Order:
    o = session.exec(select(Order).where(Order.number == number)).first()
    if o is None:
        raise NotFound("order", field=field)
    return o


def _external_of(session: Session, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    c = session.get(Customer, customer_id)
    return c.external_id if c else None


# Customers ---------------------------------------------------------------------------------

def customer_out(c: Customer) -> s.CustomerOut:
    return s.CustomerOut.model_validate(c)


def _invite(session: Session, customer: Customer, email: str) -> bool:
    """A portal user for the customer, who chooses a password through a one-time link."""
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        if existing.customer_id != customer.id:
            raise Conflict("a portal user with this email belongs to someone else", field="email")
        return False
    user = User(email=email, full_name=customer.name, role=Role.CUSTOMER, customer_id=customer.id)
    session.add(user)
    session.flush()
    assert user.id is not None
    raw = new_token()
    session.add(UserToken(user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET, token_hash=hash_token(raw),
                          expires_at=utcnow() + INVITE_VALID))
    st = get_settings()
    link = f"{st.portal_public_url.rstrip('/')}/reset?token={raw}"
    queue_mail(session, to=email, subject=f"Your {st.portal_business_name} customer portal", kind="account",
               user_id=user.id, body=(f"Hello {customer.name},\n\nAn account was opened for you on the "
                                      f"{st.portal_business_name} customer portal. Choose your password here "
                                      f"within 7 days:\n\n{link}\n"))
    return True


def upsert_customer(session: Session, *, caller: ApiCaller, external_id: str,
                    data: s.CustomerIn) -> tuple[s.CustomerOut, bool]:
    require_scope(caller, "customers", write=True)
    c = session.exec(select(Customer).where(Customer.external_id == external_id)).first()
    created = c is None
    fields = data.model_dump(exclude={"invite_user"})
    fields["email"] = normalize_email(fields["email"])
    if c is None:
        c = Customer(external_id=external_id, number=f"C-{secrets.token_hex(5).upper()}", **fields)
    else:
        for k, v in fields.items():
            setattr(c, k, v)
        c.updated_at = utcnow()
    session.add(c)
    session.flush()
    assert c.id is not None
    invited = _invite(session, c, c.email) if data.invite_user else False
    _audit(session, caller, "api.customer.created" if created else "api.customer.updated", target_type="customer",
           target_id=c.id, customer_id=c.id, external_id=external_id, invited=invited)
    emit(session, DomainEvent(topic=Topic.PROFILE, customer_id=c.id, data={"customer_id": c.id}))
    return customer_out(c), created


def get_customer(session: Session, *, caller: ApiCaller, external_id: str) -> s.CustomerOut:
    require_scope(caller, "customers", write=False)
    c = session.exec(select(Customer).where(Customer.external_id == external_id)).first()
    if c is None:
        raise NotFound("customer")
    return customer_out(c)


def list_customers(session: Session, *, caller: ApiCaller, cursor: str | None,
                   limit: int) -> tuple[list[s.CustomerOut], str | None]:
    require_scope(caller, "customers", write=False)
    rows, nxt = _page(session, Customer, cursor=cursor, limit=limit)
    return [customer_out(c) for c in rows], nxt


# Orders ------------------------------------------------------------------------------------

def order_out(session: Session, o: Order) -> s.OrderOut:
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == o.id).order_by(col(OrderLine.id))).all()
    return s.OrderOut(id=o.id or 0, number=o.number, customer_external_id=_external_of(session, o.customer_id),
                      status=o.status, currency=o.currency, subtotal_cents=o.subtotal_cents,
                      shipping_cents=o.shipping_cents, tax_cents=o.tax_cents, discount_cents=o.discount_cents,
                      total_cents=o.total_cents, placed_at=o.placed_at, updated_at=o.updated_at,
                      lines=[s.OrderLineOut.model_validate(ln) for ln in lines])


def upsert_order(session: Session, *, caller: ApiCaller, number: str, data: s.OrderIn) -> tuple[s.OrderOut, bool]:
    require_scope(caller, "orders", write=True)
    customer = _customer_by_external(session, data.customer_external_id)
    skus = [ln.sku for ln in data.lines]
    if len(set(skus)) != len(skus):
        raise Invalid("each sku may appear once per order", field="lines")
    subtotal = sum(ln.quantity * ln.unit_price_cents for ln in data.lines)
    total = subtotal + data.shipping_cents - data.discount_cents
    if subtotal > MAX_TOTAL or total > MAX_TOTAL:
        raise Invalid("order total is too large", field="lines")
    if total < 0:
        raise Invalid("discount exceeds the order value", field="discount_cents")
    o = session.exec(select(Order).where(Order.number == number)).first()
    created = o is None
    now = utcnow()
    if o is None:
        o = Order(number=number, customer_id=customer.id or 0, placed_at=data.placed_at or now)
    elif o.customer_id != customer.id:
        raise Conflict("this order number belongs to another customer", field="customer_external_id")
    old_status = None if created else o.status
    o.status = data.status
    o.currency = data.currency
    o.subtotal_cents, o.total_cents = subtotal, total
    o.shipping_cents, o.tax_cents, o.discount_cents = data.shipping_cents, data.tax_cents, data.discount_cents
    if data.shipping_address is not None:
        o.shipping_address = data.shipping_address.model_dump()
    if data.placed_at is not None:
        o.placed_at = data.placed_at
    o.updated_at = now
    session.add(o)
    session.flush()
    assert o.id is not None
    existing = {ln.sku: ln for ln in session.exec(select(OrderLine).where(OrderLine.order_id == o.id)).all()}
    for ln_in in data.lines:
        ln = existing.pop(ln_in.sku, None) or OrderLine(order_id=o.id, sku=ln_in.sku, name="", quantity=1,
                                                         unit_price_cents=0, total_cents=0)
        ln.name, ln.variant_label = ln_in.name, ln_in.variant_label
        ln.quantity, ln.unit_price_cents = ln_in.quantity, ln_in.unit_price_cents
        ln.total_cents = ln_in.quantity * ln_in.unit_price_cents
        session.add(ln)
    for gone in existing.values():
        if session.exec(select(ReturnLine).where(ReturnLine.order_line_id == gone.id)).first() is not None:
            raise Conflict("a line with a return cannot be removed", field="lines", sku=gone.sku)
        session.delete(gone)
    if created or old_status != o.status:
        session.add(OrderEvent(order_id=o.id, kind=o.status if not created else "placed", actor_kind="api",
                               actor_user_id=caller.principal.user_id or None,
                               message="" if created else f"Status changed to {o.status}"))
    _audit(session, caller, "api.order.created" if created else "api.order.updated", target_type="order",
           target_id=o.id, customer_id=o.customer_id, number=number)
    emit(session, DomainEvent(topic=Topic.ORDERS, customer_id=o.customer_id, data={"order_id": o.id}))
    session.flush()
    return order_out(session, o), created


def get_order(session: Session, *, caller: ApiCaller, number: str) -> s.OrderOut:
    require_scope(caller, "orders", write=False)
    return order_out(session, _order_by_number(session, number, field=""))


def list_orders(session: Session, *, caller: ApiCaller, cursor: str | None,
                limit: int) -> tuple[list[s.OrderOut], str | None]:
    require_scope(caller, "orders", write=False)
    rows, nxt = _page(session, Order, cursor=cursor, limit=limit)
    return [order_out(session, o) for o in rows], nxt


# Shipments ---------------------------------------------------------------------------------

def shipment_out(session: Session, sh: Shipment) -> s.ShipmentOut:
    order = session.get(Order, sh.order_id)
    return s.ShipmentOut(id=sh.id or 0, carrier=sh.carrier, carrier_name=sh.carrier_name,
                         tracking_number=sh.tracking_number, order_number=order.number if order else "",
                         tag=sh.tag, expected_delivery_start=sh.expected_delivery_start,
                         expected_delivery_end=sh.expected_delivery_end, next_poll_at=sh.next_poll_at,
                         updated_at=sh.updated_at)


def upsert_shipment(session: Session, *, caller: ApiCaller, carrier: str, tracking_number: str,
                    data: s.ShipmentIn) -> tuple[s.ShipmentOut, bool]:
    require_scope(caller, "shipments", write=True)
    order = _order_by_number(session, data.order_number)
    sh = session.exec(select(Shipment).where(Shipment.carrier == carrier,
                                             Shipment.tracking_number == tracking_number)).first()
    created = sh is None
    now = utcnow()
    if sh is None:
        # next_poll_at now: the tracking sweeper picks new shipments up on its next tick.
        sh = Shipment(order_id=order.id or 0, customer_id=order.customer_id, carrier=carrier,
                      tracking_number=tracking_number, next_poll_at=now,
                      original_expected_delivery=data.expected_delivery_end or data.expected_delivery_start)
    elif sh.order_id != order.id:
        raise Conflict("this tracking number belongs to another order", field="order_number")
    sh.carrier_name = data.carrier_name
    if sh.tag != data.tag:
        # A status set without the carrier's detail: the old detail no longer describes it.
        sh.subtag, sh.subtag_message = "", ""
    sh.tag = data.tag
    sh.expected_delivery_start = data.expected_delivery_start
    sh.expected_delivery_end = data.expected_delivery_end
    sh.updated_at = now
    session.add(sh)
    session.flush()
    _audit(session, caller, "api.shipment.created" if created else "api.shipment.updated", target_type="shipment",
           target_id=sh.id or "", customer_id=sh.customer_id, carrier=carrier, tracking_number=tracking_number)
    emit(session, DomainEvent(topic=Topic.SHIPMENTS, customer_id=sh.customer_id,
                              data={"shipment_id": sh.id, "order_id": sh.order_id}))
    return shipment_out(session, sh), created


def get_shipment(session: Session, *, caller: ApiCaller, carrier: str, tracking_number: str) -> s.ShipmentOut:
    require_scope(caller, "shipments", write=False)
    sh = session.exec(select(Shipment).where(Shipment.carrier == carrier,
                                             Shipment.tracking_number == tracking_number)).first()
    if sh is None:
        raise NotFound("shipment")
    return shipment_out(session, sh)


def list_shipments(session: Session, *, caller: ApiCaller, cursor: str | None,
                   limit: int) -> tuple[list[s.ShipmentOut], str | None]:
    require_scope(caller, "shipments", write=False)
    rows, nxt = _page(session, Shipment, cursor=cursor, limit=limit)
    return [shipment_out(session, sh) for sh in rows], nxt


# Invoices and payments ---------------------------------------------------------------------

def invoice_out(session: Session, inv: Invoice) -> s.InvoiceOut:
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)
                         .order_by(col(InvoiceLine.id))).all()
    order = session.get(Order, inv.order_id) if inv.order_id else None
    return s.InvoiceOut(id=inv.id or 0, number=inv.number,
                        customer_external_id=_external_of(session, inv.customer_id),
                        order_number=order.number if order else None, kind=inv.kind, status=inv.status,
                        currency=inv.currency, subtotal_cents=inv.subtotal_cents, tax_cents=inv.tax_cents,
                        total_cents=inv.total_cents, amount_paid_cents=inv.amount_paid_cents,
                        issued_at=inv.issued_at, due_at=inv.due_at,
                        lines=[s.InvoiceLineOut.model_validate(ln) for ln in lines])


def _settle(session: Session, inv: Invoice) -> None:
    paid = session.exec(select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
        Payment.invoice_id == inv.id, Payment.status == PaymentStatus.SUCCEEDED)).one()
    inv.amount_paid_cents = min(int(paid), MAX_TOTAL)
    if inv.status == InvoiceStatus.OPEN and inv.total_cents > 0 and inv.amount_paid_cents >= inv.total_cents:
        inv.status, inv.paid_at = InvoiceStatus.PAID, utcnow()
    session.add(inv)


def upsert_invoice(session: Session, *, caller: ApiCaller, number: str,
                   data: s.InvoiceIn) -> tuple[s.InvoiceOut, bool]:
    require_scope(caller, "invoices", write=True)
    customer = _customer_by_external(session, data.customer_external_id)
    order = _order_by_number(session, data.order_number) if data.order_number else None
    if order is not None and order.customer_id != customer.id:
        raise NotFound("order", field="order_number")
    totals = [ln.quantity * ln.unit_price_cents for ln in data.lines]
    gross = sum(totals)
    if gross > MAX_TOTAL:
        raise Invalid("invoice total is too large", field="lines")
    # Prices are VAT-inclusive: each line's tax is the share of its gross at its rate.
    tax = sum(t * ln.tax_rate_bp // (10_000 + ln.tax_rate_bp) for t, ln in zip(totals, data.lines, strict=True))
    inv = session.exec(select(Invoice).where(Invoice.number == number)).first()
    created = inv is None
    if inv is None:
        inv = Invoice(number=number, customer_id=customer.id or 0, issued_at=data.issued_at)
    elif inv.customer_id != customer.id:
        raise Conflict("this invoice number belongs to another customer", field="customer_external_id")
    inv.order_id = order.id if order else None
    inv.kind, inv.status, inv.currency = data.kind, data.status, data.currency
    inv.issued_at = data.issued_at
    inv.payment_terms_days = data.payment_terms_days
    inv.due_at = data.due_at or data.issued_at + timedelta(days=data.payment_terms_days)
    inv.subtotal_cents = inv.total_cents = gross
    inv.tax_cents = tax
    session.add(inv)
    session.flush()
    for old in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)).all():
        session.delete(old)
    for t, ln in zip(totals, data.lines, strict=True):
        session.add(InvoiceLine(invoice_id=inv.id or 0, description=ln.description, quantity=ln.quantity,
                                unit_price_cents=ln.unit_price_cents, tax_rate_bp=ln.tax_rate_bp, total_cents=t))
    _settle(session, inv)
    session.flush()
    _audit(session, caller, "api.invoice.created" if created else "api.invoice.updated", target_type="invoice",
           target_id=inv.id or "", customer_id=inv.customer_id, number=number)
    emit(session, DomainEvent(topic=Topic.BILLING, customer_id=inv.customer_id, data={"invoice_id": inv.id}))
    return invoice_out(session, inv), created


def get_invoice(session: Session, *, caller: ApiCaller, number: str) -> s.InvoiceOut:
    require_scope(caller, "invoices", write=False)
    inv = session.exec(select(Invoice).where(Invoice.number == number)).first()
    if inv is None:
        raise NotFound("invoice")
    return invoice_out(session, inv)


def list_invoices(session: Session, *, caller: ApiCaller, cursor: str | None,
                  limit: int) -> tuple[list[s.InvoiceOut], str | None]:
    require_scope(caller, "invoices", write=False)
    rows, nxt = _page(session, Invoice, cursor=cursor, limit=limit)
    return [invoice_out(session, i) for i in rows], nxt


def payment_out(session: Session, p: Payment) -> s.PaymentOut:
    inv = session.get(Invoice, p.invoice_id) if p.invoice_id else None
    return s.PaymentOut(id=p.id or 0, reference=p.provider_ref or "",
                        customer_external_id=_external_of(session, p.customer_id),
                        invoice_number=inv.number if inv else None, amount_cents=p.amount_cents, currency=p.currency,
                        method=p.method, method_label=p.method_label, status=p.status, created_at=p.created_at,
                        completed_at=p.completed_at)


def upsert_payment(session: Session, *, caller: ApiCaller, reference: str,
                   data: s.PaymentIn) -> tuple[s.PaymentOut, bool]:
    require_scope(caller, "payments", write=True)
    customer = _customer_by_external(session, data.customer_external_id)
    inv = None
    if data.invoice_number:
        inv = session.exec(select(Invoice).where(Invoice.number == data.invoice_number)).first()
        if inv is None or inv.customer_id != customer.id:
            raise NotFound("invoice", field="invoice_number")
    p = session.exec(select(Payment).where(Payment.provider_ref == reference)).first()
    created = p is None
    if p is None:
        p = Payment(customer_id=customer.id or 0, amount_cents=data.amount_cents, provider="api",
                    provider_ref=reference)
    elif p.customer_id != customer.id:
        raise Conflict("this payment reference belongs to another customer", field="customer_external_id")
    previous_invoice = p.invoice_id
    p.invoice_id = inv.id if inv else None
    p.amount_cents, p.currency, p.method = data.amount_cents, data.currency, data.method
    p.method_label, p.failure_reason = data.method_label, data.failure_reason
    if p.status != data.status and data.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        p.completed_at = utcnow()
    p.status = data.status
    session.add(p)
    session.flush()
    for inv_id in {previous_invoice, p.invoice_id} - {None}:
        target = session.get(Invoice, inv_id)
        if target is not None:
            _settle(session, target)
    _audit(session, caller, "api.payment.created" if created else "api.payment.updated", target_type="payment",
           target_id=p.id or "", customer_id=p.customer_id, reference=reference)
    emit(session, DomainEvent(topic=Topic.BILLING, customer_id=p.customer_id, data={"payment_id": p.id}))
    return payment_out(session, p), created


def get_payment(session: Session, *, caller: ApiCaller, reference: str) -> s.PaymentOut:
    require_scope(caller, "payments", write=False)
    p = session.exec(select(Payment).where(Payment.provider_ref == reference)).first()
    if p is None:
        raise NotFound("payment")
    return payment_out(session, p)


def list_payments(session: Session, *, caller: ApiCaller, cursor: str | None,
                  limit: int) -> tuple[list[s.PaymentOut], str | None]:
    require_scope(caller, "payments", write=False)
    rows, nxt = _page(session, Payment, cursor=cursor, limit=limit)
    return [payment_out(session, p) for p in rows], nxt


# Documents ---------------------------------------------------------------------------------

def document_out(session: Session, d: Document) -> s.DocumentOut:
    return s.DocumentOut(id=d.id or 0, external_id=d.external_id,
                         customer_external_id=_external_of(session, d.customer_id),
                         kind=d.kind, status=d.status, title=d.title, description=d.description, filename=d.filename,
                         content_type=d.content_type, size_bytes=d.size_bytes, sha256=d.sha256,
                         signed_at=d.signed_at, signed_name=d.signed_name, created_at=d.created_at)


def upsert_document(session: Session, *, caller: ApiCaller, external_id: str,
                    data: s.DocumentIn) -> tuple[s.DocumentOut, bool]:
    require_scope(caller, "documents", write=True)
    customer = _customer_by_external(session, data.customer_external_id)
    order = _order_by_number(session, data.order_number) if data.order_number else None
    if order is not None and order.customer_id != customer.id:
        raise NotFound("order", field="order_number")
    d = session.exec(select(Document).where(Document.external_id == external_id)).first()
    created = d is None
    if d is None:
        d = Document(external_id=external_id, customer_id=customer.id or 0, kind=data.kind, title=data.title)
    elif d.customer_id != customer.id:
        raise Conflict("this document belongs to another customer", field="customer_external_id")
    if d.status == "signed" and data.status != "signed":
        raise Conflict("a signed document cannot change status", field="status")
    d.order_id = order.id if order else None
    d.kind, d.status, d.title, d.description = data.kind, data.status, data.title, data.description
    session.add(d)
    session.flush()
    _audit(session, caller, "api.document.created" if created else "api.document.updated", target_type="document",
           target_id=d.id or "", customer_id=d.customer_id, external_id=external_id)
    emit(session, DomainEvent(topic=Topic.DOCUMENTS, customer_id=d.customer_id, data={"document_id": d.id}))
    return document_out(session, d), created


_SAFE_NAME = str.maketrans({c: "_" for c in '/\\:*?"<>|\x00\r\n\t'})


def store_document_file(session: Session, *, caller: ApiCaller, external_id: str, content: bytes,
                        content_type: str, filename: str) -> s.DocumentOut:
    """The file goes to the private files dir under a server-chosen name."""
    require_scope(caller, "documents", write=True)
    d = session.exec(select(Document).where(Document.external_id == external_id)).first()
    if d is None:
        raise NotFound("document")
    if not content:
        raise Invalid("the file is empty", field="body")
    if len(content) > MAX_FILE_BYTES:
        raise Invalid("the file is too large", field="body")
    if d.status == "signed":
        raise Conflict("a signed document's file cannot be replaced", field="body")
    storage_key = f"documents/{uuid.uuid4().hex}"
    path = get_settings().files_dir / storage_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old_key = d.storage_key
    d.storage_key = storage_key
    d.filename = (filename.translate(_SAFE_NAME).strip() or "document")[:255]
    d.content_type = (content_type or "application/octet-stream")[:100]
    d.size_bytes = len(content)
    d.sha256 = hashlib.sha256(content).hexdigest()
    if d.status == "requested":
        d.status = "available"
    session.add(d)
    session.flush()
    if old_key:
        (get_settings().files_dir / old_key).unlink(missing_ok=True)
    _audit(session, caller, "api.document.file_stored", target_type="document", target_id=d.id or "",
           customer_id=d.customer_id, sha256=d.sha256, size=d.size_bytes)
    emit(session, DomainEvent(topic=Topic.DOCUMENTS, customer_id=d.customer_id, data={"document_id": d.id}))
    return document_out(session, d)


def get_document(session: Session, *, caller: ApiCaller, external_id: str) -> s.DocumentOut:
    require_scope(caller, "documents", write=False)
    d = session.exec(select(Document).where(Document.external_id == external_id)).first()
    if d is None:
        raise NotFound("document")
    return document_out(session, d)


def list_documents(session: Session, *, caller: ApiCaller, cursor: str | None,
                   limit: int) -> tuple[list[s.DocumentOut], str | None]:
    require_scope(caller, "documents", write=False)
    rows, nxt = _page(session, Document, cursor=cursor, limit=limit)
    return [document_out(session, d) for d in rows], nxt


# Help articles -----------------------------------------------------------------------------

def article_out(session: Session, a: KbArticle) -> s.ArticleOut:
    cat = session.get(KbCategory, a.category_id)
    return s.ArticleOut(id=a.id or 0, slug=a.slug, title=a.title, category_slug=cat.slug if cat else "",
                        summary=a.summary, body_md=a.body_md, status=a.status, position=a.position,
                        published_at=a.published_at, updated_at=a.updated_at)


def upsert_article(session: Session, *, caller: ApiCaller, slug: str, data: s.ArticleIn) -> tuple[s.ArticleOut, bool]:
    require_scope(caller, "articles", write=True)
    cat = session.exec(select(KbCategory).where(KbCategory.slug == data.category_slug)).first()
    if cat is None:
        name = data.category_name or data.category_slug.replace("-", " ").title()
        cat = KbCategory(slug=data.category_slug, name=name)
        session.add(cat)
        session.flush()
    a = session.exec(select(KbArticle).where(KbArticle.slug == slug)).first()
    created = a is None
    now = utcnow()
    if a is None:
        a = KbArticle(slug=slug, title=data.title, category_id=cat.id or 0)
    a.category_id = cat.id or 0
    a.title, a.summary, a.body_md, a.position = data.title, data.summary, data.body_md, data.position
    if data.status == ArticleStatus.PUBLISHED and a.published_at is None:
        a.published_at = now
    a.status = data.status
    # The search embedding is stale once the text changes; the help center recomputes it.
    a.embedding, a.embedding_model = None, ""
    a.updated_at = now
    session.add(a)
    session.flush()
    _audit(session, caller, "api.article.created" if created else "api.article.updated", target_type="article",
           target_id=a.id or "", customer_id=None, slug=slug)
    return article_out(session, a), created


def get_article(session: Session, *, caller: ApiCaller, slug: str) -> s.ArticleOut:
    require_scope(caller, "articles", write=False)
    a = session.exec(select(KbArticle).where(KbArticle.slug == slug)).first()
    if a is None:
        raise NotFound("article")
    return article_out(session, a)


def list_articles(session: Session, *, caller: ApiCaller, cursor: str | None,
                  limit: int) -> tuple[list[s.ArticleOut], str | None]:
    require_scope(caller, "articles", write=False)
    rows, nxt = _page(session, KbArticle, cursor=cursor, limit=limit)
    return [article_out(session, a) for a in rows], nxt
