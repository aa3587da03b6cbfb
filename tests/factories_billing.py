"""Factories for billing and documents: invoices with lines, payments, documents with files, and
signed provider events."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from portal.db import utcnow
from portal.integrations import payments
from portal.integrations.pdf import render_text_pdf
from portal.models import (
    CreditEntry,
    Customer,
    Document,
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from portal.settings import get_settings

_seq = itertools.count(1)


def make_billed_invoice(db: Session, customer: Customer, *, lines: tuple[tuple[str, int, int], ...] = (
        ("Trail jacket", 1, 12900), ("Standard delivery", 1, 595)), status: InvoiceStatus = InvoiceStatus.OPEN,
        days_ago: int = 1, due_in_days: int = 14, **fields: Any) -> Invoice:
    n = next(_seq)
    gross = sum(q * p for _, q, p in lines)
    now = utcnow()
    inv = Invoice(number=f"INV-B{n:05d}", customer_id=customer.id or 0, subtotal_cents=gross,
                  tax_cents=round(gross * 20 / 120), total_cents=gross,
                  amount_paid_cents=gross if status == InvoiceStatus.PAID else 0,
                  issued_at=now - timedelta(days=days_ago), due_at=now - timedelta(days=days_ago - due_in_days),
                  status=status, paid_at=now if status == InvoiceStatus.PAID else None, **fields)
    db.add(inv)
    db.flush()
    for desc, qty, unit in lines:
        db.add(InvoiceLine(invoice_id=inv.id or 0, description=desc, quantity=qty, unit_price_cents=unit,
                           tax_rate_bp=2000, total_cents=qty * unit))
    db.commit()
    return inv


def make_payment(db: Session, customer: Customer, invoice: Invoice | None = None, *, amount_cents: int = 1000,
                 status: PaymentStatus = PaymentStatus.SUCCEEDED, days_ago: int = 1) -> Payment:
    when = utcnow() - timedelta(days=days_ago)
    pay = Payment(customer_id=customer.id or 0, invoice_id=invoice.id if invoice else None, amount_cents=amount_cents,
                  method="card", method_label="Visa •••• 4242", status=status, provider="simulator",
                  provider_ref=f"sim_{uuid.uuid4().hex}", created_at=when,
                  completed_at=when if status != PaymentStatus.PENDING else None)
    db.add(pay)
    db.commit()
    return pay


def make_card(db: Session, customer: Customer, *, last4: str = "4242", is_default: bool = False) -> PaymentMethod:
    card = PaymentMethod(customer_id=customer.id or 0, provider="simulator",
                         provider_token=f"pm_sim_{secrets.token_hex(8)}", brand="visa", last4=last4, exp_month=12,
                         exp_year=utcnow().year + 2, is_default=is_default)
    db.add(card)
    db.commit()
    return card


def make_credit(db: Session, customer: Customer, *, amount_cents: int = 2500,
                reason: str = "Refund for return") -> None:
    db.add(CreditEntry(customer_id=customer.id or 0, amount_cents=amount_cents, reason=reason))
    db.commit()


def make_document(db: Session, customer: Customer, *, kind: DocumentKind = DocumentKind.CONTRACT,
                  status: DocumentStatus = DocumentStatus.AWAITING_SIGNATURE, title: str = "Trade agreement",
                  with_file: bool = True) -> Document:
    doc = Document(customer_id=customer.id or 0, kind=kind, status=status, title=title)
    if with_file:
        data = render_text_pdf(title, ["Clause 1: be nice."], business=get_settings().portal_business_name)
        key = f"documents/{uuid.uuid4().hex}.pdf"
        path = get_settings().files_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        doc.storage_key, doc.filename, doc.content_type = key, "agreement.pdf", "application/pdf"
        doc.size_bytes, doc.sha256 = len(data), hashlib.sha256(data).hexdigest()
    db.add(doc)
    db.commit()
    return doc


def provider_event(payment: Payment, *, succeeded: bool = True, amount_cents: int | None = None,
                   event_id: str = "") -> payments.PaymentEvent:
    return payments.PaymentEvent(
        id=event_id or f"evt_{secrets.token_hex(6)}", type="checkout.succeeded" if succeeded else "checkout.failed",
        created=int(time.time()), session_id=payment.provider_ref or "", reference=f"pay_{payment.id}",
        amount_cents=payment.amount_cents if amount_cents is None else amount_cents, currency=payment.currency,
        card=payments.CardDetails(brand="visa", last4="4242" if succeeded else "0002", exp_month=12, exp_year=2030),
        failure_code="" if succeeded else "card_declined",
        failure_message="" if succeeded else "Your card was declined.",
    )


def signed(event: payments.PaymentEvent, *, timestamp: int | None = None, secret: str = "") -> tuple[bytes, str]:
    body = payments.event_body(event)
    return body, payments.sign(body, secret=secret or get_settings().payments_webhook_secret, timestamp=timestamp)
