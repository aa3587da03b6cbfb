"""The invoice side of orders placed and changed in the portal.

A placed order is invoiced at once (the customer pays it by bank transfer quoting the invoice
number, or by card on the invoice page). Every change that moves money settles that invoice in
the same transaction: an unpaid invoice is voided, what was already paid is credited with a
credit note, so the balance, the invoice list and the "Pay now" button always agree with the
order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal import format as fmt
from portal.db import utcnow
from portal.domain import audit, events, outbox
from portal.domain.events import DomainEvent, Topic
from portal.domain.mail import queue_mail
from portal.domain.order_policy import OrderPolicy
from portal.domain.orders import own_order
from portal.domain.principal import Principal, require_customer
from portal.format import money
from portal.i18n import tr
from portal.models import (
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Order,
    OrderLine,
    OrderLinePublic,
    OrderPublic,
)
from portal.settings import get_settings

INVOICE_PREFIX = "INV-"
CREDIT_NOTE_PREFIX = "CN-"


def next_number(session: Session, column: object, prefix: str, *, floor: int, width: int = 5) -> str:
    """The next number of one sequence ("FH-12609" after "FH-12608"), in the shape the others have.

    Numbers of one prefix are compared by length first, then text, so "FH-100000" follows
    "FH-99999" on every database. A concurrent insert of the same number fails on the unique
    index and is retried by the caller's transaction, never silently duplicated."""
    c = col(column)  # type: ignore[call-overload]
    last = session.exec(select(c).where(c.like(f"{prefix}%"))
                        .order_by(func.length(c).desc(), c.desc()).limit(1)).first()
    digits = str(last)[len(prefix):] if last else ""
    current = int(digits) if digits.isdigit() else floor
    return f"{prefix}{max(current, floor) + 1:0{width}d}"


def new_order_number(session: Session) -> str:
    return next_number(session, Order.number, get_settings().portal_order_prefix, floor=10000)


@dataclasses.dataclass(frozen=True, slots=True)
class BankTransfer:
    """What a customer needs to pay an invoice by bank transfer."""

    account_name: str
    iban: str
    bic: str
    bank: str
    reference: str  # the invoice number: it is how the payment is matched
    amount_cents: int
    currency: str
    due_at_iso: str


def bank_transfer(invoice: Invoice) -> BankTransfer | None:
    """Instructions for an invoice that still has something to pay, else None."""
    open_cents = invoice.total_cents - invoice.amount_paid_cents
    if invoice.kind != InvoiceKind.INVOICE or invoice.status != InvoiceStatus.OPEN or open_cents <= 0:
        return None
    s = get_settings()
    if not s.portal_bank_iban:
        return None
    return BankTransfer(account_name=s.portal_bank_account_name or s.portal_legal_name or s.portal_business_name,
                        iban=s.portal_bank_iban, bic=s.portal_bank_bic, bank=s.portal_bank_name,
                        reference=invoice.number, amount_cents=open_cents, currency=invoice.currency,
                        due_at_iso=invoice.due_at.isoformat() if invoice.due_at else "")


def invoice_order(session: Session, *, order: Order, lines: list[OrderLine], policy: OrderPolicy) -> Invoice:
    """The invoice of a newly placed order: every line, delivery, VAT included, due on the usual terms.
    Written in the language of whoever places the order (the customer, in the portal): an invoice's
    lines are fixed when it is issued."""
    now = utcnow()
    terms = Invoice.model_fields["payment_terms_days"].default
    invoice = Invoice(number=next_number(session, Invoice.number, INVOICE_PREFIX, floor=30000),
                      kind=InvoiceKind.INVOICE, currency=order.currency, subtotal_cents=order.total_cents,
                      tax_cents=order.tax_cents, total_cents=order.total_cents, payment_terms_days=terms,
                      issued_at=now, due_at=now + timedelta(days=terms), customer_id=order.customer_id,
                      order_id=order.id, status=InvoiceStatus.OPEN, created_at=now)
    session.add(invoice)
    session.flush()
    rate = policy.vat_percent * 100
    for ln in lines:
        description = f"{ln.name} – {ln.variant_label}" if ln.variant_label else ln.name
        session.add(InvoiceLine(invoice_id=invoice.id or 0, description=description[:300], quantity=ln.quantity,
                                unit_price_cents=ln.unit_price_cents, tax_rate_bp=rate, total_cents=ln.total_cents))
    if order.shipping_cents:
        session.add(InvoiceLine(invoice_id=invoice.id or 0, description=tr("Standard delivery"), quantity=1,
                                unit_price_cents=order.shipping_cents, tax_rate_bp=rate,
                                total_cents=order.shipping_cents))
    _billing_changed(session, invoice, "invoice.issued")
    return invoice


@dataclasses.dataclass(frozen=True, slots=True)
class Settlement:
    voided: list[str]  # invoice numbers
    credit_notes: list[str]
    credited_cents: int

    @property
    def sentence(self) -> str:
        """How the money side ended, for the customer's notice and notification."""
        parts = []
        if self.voided:
            parts.append(tr("Invoice {numbers} is void; there is nothing to pay.", numbers=", ".join(self.voided)))
        if self.credit_notes:
            parts.append(tr("Credit note {numbers} credits what you paid; it will be refunded to your original "
                            "payment method.", numbers=", ".join(self.credit_notes)))
        return " ".join(parts)


def settle_cancelled_order(session: Session, *, order: Order, reason: str) -> Settlement:
    """Void what is unpaid and credit what was paid, for every invoice of a cancelled order."""
    invoices = list(session.exec(select(Invoice).where(Invoice.order_id == order.id,
                                                       Invoice.customer_id == order.customer_id,
                                                       Invoice.kind == InvoiceKind.INVOICE,
                                                       col(Invoice.status).in_((InvoiceStatus.OPEN,
                                                                                InvoiceStatus.PAID)))
                                 .order_by(col(Invoice.id)).with_for_update()))
    voided: list[str] = []
    notes: list[str] = []
    credited = 0
    for inv in invoices:
        if inv.amount_paid_cents > 0:
            note = _credit_note(session, inv, inv.amount_paid_cents, f"Order {order.number} cancelled")
            notes.append(note.number)
            credited += note.total_cents
        if inv.status == InvoiceStatus.OPEN:
            # Nothing (more) is owed on an order that will not be delivered.
            inv.status = InvoiceStatus.VOID
            session.add(inv)
            voided.append(inv.number)
            _billing_changed(session, inv, "invoice.voided", reason=reason)
    return Settlement(voided=voided, credit_notes=notes, credited_cents=credited)


def settlement_of(session: Session, *, order: Order) -> Settlement:
    """How the invoices of an order stand now (after a cancellation: what was voided and credited)."""
    rows = session.exec(select(Invoice).where(Invoice.order_id == order.id, Invoice.customer_id == order.customer_id)
                        .order_by(col(Invoice.id))).all()
    notes = [i for i in rows if i.kind == InvoiceKind.CREDIT_NOTE]
    void = [i.number for i in rows if i.kind == InvoiceKind.INVOICE and i.status == InvoiceStatus.VOID]
    return Settlement(voided=void, credit_notes=[i.number for i in notes],
                      credited_cents=sum(i.total_cents for i in notes))


def _credit_note(session: Session, inv: Invoice, amount_cents: int, why: str) -> Invoice:
    now = utcnow()
    vat = round(inv.tax_cents * amount_cents / inv.total_cents) if inv.total_cents else 0
    # Issued and settled at once: the amount is owed back to the customer, not by them.
    note = Invoice(number=next_number(session, Invoice.number, CREDIT_NOTE_PREFIX, floor=900),
                   kind=InvoiceKind.CREDIT_NOTE, currency=inv.currency, subtotal_cents=amount_cents, tax_cents=vat,
                   total_cents=amount_cents, amount_paid_cents=amount_cents, issued_at=now, due_at=None,
                   customer_id=inv.customer_id, order_id=inv.order_id, credits_invoice_id=inv.id,
                   status=InvoiceStatus.PAID, paid_at=now, created_at=now)
    session.add(note)
    session.flush()
    session.add(InvoiceLine(invoice_id=note.id or 0, description=f"{why}: credit of invoice {inv.number}"[:300],
                            quantity=1, unit_price_cents=amount_cents, tax_rate_bp=0, total_cents=amount_cents))
    _billing_changed(session, note, "credit_note.issued", credits_invoice=inv.number)
    return note


def _billing_changed(session: Session, inv: Invoice, kind: str, **extra: Any) -> None:
    audit.record(session, action=kind, customer_id=inv.customer_id, target_type="invoice", target_id=inv.id or "",
                 number=inv.number, **extra)
    outbox.enqueue(session, kind=kind, customer_id=inv.customer_id,
                   payload={"invoice_number": inv.number, "kind": inv.kind, "total_cents": inv.total_cents,
                            "currency": inv.currency, "order_id": inv.order_id, **extra})
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=inv.customer_id, data={"invoice_id": inv.id}))


def transfer_lines(transfer: BankTransfer, *, fmt: Callable[[int, str], str] = money) -> list[str]:
    """The transfer details as a person copies them into their bank's app (amounts written by `fmt`)."""
    rows = [tr("Amount: {amount}", amount=fmt(transfer.amount_cents, transfer.currency)),
            tr("Account holder: {name}", name=transfer.account_name), f"IBAN: {transfer.iban}"]
    if transfer.bic:
        rows.append(f"BIC: {transfer.bic}")
    if transfer.bank:
        rows.append(tr("Bank: {bank}", bank=transfer.bank))
    rows.append(tr("Reference: {reference}", reference=transfer.reference))
    return rows


def confirmation_mail(session: Session, *, order: Order, lines: list[OrderLine], invoice: Invoice) -> None:
    """The order confirmation, queued with the order (a rolled-back order sends nothing); in the language
    of the customer placing the order (served now)."""
    customer = session.get(Customer, order.customer_id)
    if customer is None or not customer.email:
        return
    s = get_settings()
    items = [f"  {ln.quantity} × {ln.name}{f' – {ln.variant_label}' if ln.variant_label else ''}: "
             f"{money(ln.total_cents, order.currency)}" for ln in lines]
    if order.shipping_cents:
        items.append("  " + tr("Delivery: {amount}", amount=money(order.shipping_cents, order.currency)))
    transfer = bank_transfer(invoice)
    pay = ([tr("Please pay by bank transfer:"), *(f"  {row}" for row in transfer_lines(transfer)),
            tr("Quote the reference {number} so we can match your payment. You can also pay by card on "
               "the invoice page in the portal.", number=invoice.number)] if transfer else
           [tr("You can pay by card on the invoice page in the portal.")])
    base = s.portal_public_url.rstrip("/")
    body = "\n".join([
        tr("Hello {name},", name=customer.name), "",
        tr("Thank you for your order {number}. We ship it as soon as your payment arrives.", number=order.number), "",
        *items, "  " + tr("Total (VAT included): {amount}", amount=money(order.total_cents, order.currency)), "",
        tr("Invoice {number} is due by {date}.", number=invoice.number, date=fmt.long_day(invoice.due_at))
        if invoice.due_at else "", "",
        *pay, "",
        tr("Your order: {link}", link=f"{base}/orders/{order.id}"),
        tr("Your invoice: {link}", link=f"{base}/billing/invoices/{invoice.id}"), "",
        s.portal_business_name,
    ])
    queue_mail(session, to=customer.email, subject=tr("Your order {number} – payment details", number=order.number),
               body=body, kind="order_confirmation")


@dataclasses.dataclass(frozen=True, slots=True)
class Confirmation:
    """What the customer sees right after placing an order."""

    order: OrderPublic
    lines: list[OrderLinePublic]
    shipping_address: dict[str, Any]
    invoice_id: int | None
    invoice_number: str
    invoice_status: str
    invoice_due_at: datetime | None
    transfer: BankTransfer | None
    email: str


def confirmation(session: Session, *, principal: Principal, order_id: Any) -> Confirmation:
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id)
    lines = list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))))
    invoice = session.exec(select(Invoice).where(Invoice.order_id == order.id, Invoice.customer_id == customer_id,
                                                 Invoice.kind == InvoiceKind.INVOICE,
                                                 Invoice.status != InvoiceStatus.DRAFT)
                           .order_by(col(Invoice.id).desc())).first()
    customer = session.get(Customer, customer_id)
    return Confirmation(
        order=OrderPublic.model_validate(order, from_attributes=True,
                                         update={"item_count": sum(ln.quantity for ln in lines)}),
        lines=[OrderLinePublic.model_validate(ln, from_attributes=True) for ln in lines],
        shipping_address=dict(order.shipping_address),
        invoice_id=invoice.id if invoice else None, invoice_number=invoice.number if invoice else "",
        invoice_status=str(invoice.status) if invoice else "", invoice_due_at=invoice.due_at if invoice else None,
        transfer=bank_transfer(invoice) if invoice else None, email=customer.email if customer else "")
