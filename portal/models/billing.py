"""Invoices (and credit notes), payments, saved payment methods, and store credit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class InvoiceBase(SQLModel):
    number: str = Field(max_length=32, unique=True, index=True)
    kind: str = Field(default=InvoiceKind.INVOICE, sa_type=String(16))
    currency: str = Field(default="EUR", max_length=3)
    # Prices are VAT-inclusive: subtotal and total are gross, tax_cents is the VAT they include.
    subtotal_cents: int = 0
    tax_cents: int = 0
    total_cents: int = 0
    payment_terms_days: int = 14
    amount_paid_cents: int = 0
    issued_at: datetime
    due_at: datetime | None = None


class Invoice(InvoiceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    # A credit note names the invoice it credits.
    credits_invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    status: str = Field(default=InvoiceStatus.OPEN, sa_type=String(8), index=True)
    paid_at: datetime | None = None
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    created_at: datetime = created_at_field()


class InvoicePublic(InvoiceBase):
    id: int
    status: str
    order_id: int | None
    paid_at: datetime | None
    overdue: bool = False
    balance_cents: int = 0


class InvoiceLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = fk("invoice.id", ondelete="CASCADE")
    description: str = Field(max_length=300)
    quantity: int = 1
    unit_price_cents: int = 0
    tax_rate_bp: int = 0  # basis points: 2000 = 20 %
    total_cents: int = 0


class PaymentStatus(StrEnum):
    PENDING = "pending"
    # Accepted by the provider but not settled yet (SEPA Direct Debit takes days).
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="order.id", index=True)
    amount_cents: int
    currency: str = Field(default="EUR", max_length=3)
    method: str = Field(default="card", max_length=16)  # card, bank_transfer, store_credit
    method_label: str = Field(default="", max_length=60)  # "Visa •••• 4242"
    status: str = Field(default=PaymentStatus.PENDING, sa_type=String(12), index=True)
    provider: str = Field(default="", max_length=32)
    # The provider's id: confirming a payment is idempotent on it.
    provider_ref: str | None = Field(default=None, max_length=100, unique=True)
    # Stripe's PaymentIntent (pi_...): refunds and disputes name it.
    provider_intent: str | None = Field(default=None, max_length=100, unique=True)
    # What the provider says was refunded so far (charge.amount_refunded).
    refunded_cents: int = 0
    # The `created` time of the newest provider event applied: an older one arriving late never
    # moves the payment back (processing after failed, say).
    provider_event_at: int = 0
    failure_reason: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()
    completed_at: datetime | None = None


class PaymentPublic(SQLModel):
    id: int
    invoice_id: int | None
    amount_cents: int
    currency: str
    method: str
    method_label: str
    status: str
    failure_reason: str
    created_at: datetime


class PaymentMethod(SQLModel, table=True):
    """A saved card: only the provider's token and what a person needs to recognise it."""

    # Two deliveries of one setup (concurrent webhooks) cannot save the card twice.
    __table_args__ = (UniqueConstraint("provider", "provider_token"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    provider: str = Field(max_length=32)
    provider_token: str = Field(max_length=128)
    brand: str = Field(max_length=20)
    last4: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    is_default: bool = False
    created_at: datetime = created_at_field()


class PaymentMethodPublic(SQLModel):
    id: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool


class CreditEntry(SQLModel, table=True):
    """Store-credit ledger: the balance is the sum; entries are never edited."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    amount_cents: int  # positive adds credit, negative spends it
    currency: str = Field(default="EUR", max_length=3)
    reason: str = Field(max_length=200)
    return_id: int | None = Field(default=None, foreign_key="return.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    expires_at: datetime | None = None
    created_at: datetime = created_at_field()


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Refund(SQLModel, table=True):
    """Money sent back to the payment it came from, in full or in part; the provider settles it."""

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = fk("payment.id")
    customer_id: int = fk("customer.id")
    return_id: int | None = Field(default=None, foreign_key="return.id", index=True)
    amount_cents: int
    currency: str = Field(default="EUR", max_length=3)
    status: str = Field(default=RefundStatus.PENDING, sa_type=String(12), index=True)
    reason: str = Field(default="", max_length=200)
    provider_ref: str | None = Field(default=None, max_length=100, unique=True)  # Stripe's re_...
    failure_reason: str = Field(default="", max_length=200)
    requested_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
    completed_at: datetime | None = None


class ProviderEvent(SQLModel, table=True):
    """A provider's webhook event already applied: the unique id makes every delivery count once."""

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=100)
    type: str = Field(max_length=60)
    outcome: str = Field(default="", max_length=30)
    created_at: datetime = created_at_field()

    __table_args__ = (UniqueConstraint("provider", "event_id"),)
