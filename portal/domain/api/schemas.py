"""What the integration API accepts and returns. The OpenAPI description is generated from
these models, so the documentation and the validation cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


def _storable(value: str) -> str:
    # PostgreSQL refuses NUL in text and neither database stores lone surrogates.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def _sane_time(value: datetime) -> datetime:
    if not 1970 <= value.year <= 2200:
        raise ValueError("must be between 1970 and 2200")
    return value


def Str(max_length: int, *, min_length: int = 0, pattern: str | None = None) -> Any:
    return Annotated[str, StringConstraints(max_length=max_length, min_length=min_length, pattern=pattern),
                     AfterValidator(_storable)]


Time = Annotated[AwareDatetime, AfterValidator(_sane_time)]
Cents = Annotated[int, Field(ge=0, le=1_000_000_000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[A-Za-z0-9.-]{1,200}\.[A-Za-z]{2,24}$"
Email = Annotated[str, StringConstraints(max_length=320, pattern=EMAIL_PATTERN)]
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# Order and invoice numbers are stored in 32 characters.
NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$"
NaturalKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Customers ---------------------------------------------------------------------------------

class CustomerIn(_In):
    name: Str(200, min_length=1)  # type: ignore[valid-type]
    email: Email
    phone: Str(40) = ""  # type: ignore[valid-type]
    company: Str(200) = ""  # type: ignore[valid-type]
    vat_number: Str(32) = ""  # type: ignore[valid-type]
    country: Country = "GB"
    currency: Currency = "EUR"
    invite_user: bool = Field(default=False, description="Create a portal user with this email and send an invitation.")


class CustomerOut(_Out):
    id: int
    external_id: str | None
    number: str
    name: str
    email: str
    phone: str
    company: str
    vat_number: str
    country: str
    currency: str
    created_at: datetime
    updated_at: datetime


# Orders ------------------------------------------------------------------------------------

ORDER_STATUSES = ("placed", "paid", "packed", "shipped", "out_for_delivery", "delivered", "returned", "cancelled")


class OrderLineIn(_In):
    sku: Str(64, min_length=1)  # type: ignore[valid-type]
    name: Str(200, min_length=1)  # type: ignore[valid-type]
    variant_label: Str(120) = ""  # type: ignore[valid-type]
    quantity: int = Field(ge=1, le=10_000)
    unit_price_cents: int = Field(ge=0, le=10_000_000)


class AddressIn(_In):
    name: Str(200, min_length=1)  # type: ignore[valid-type]
    company: Str(200) = ""  # type: ignore[valid-type]
    line1: Str(200, min_length=1)  # type: ignore[valid-type]
    line2: Str(200) = ""  # type: ignore[valid-type]
    city: Str(100, min_length=1)  # type: ignore[valid-type]
    region: Str(100) = ""  # type: ignore[valid-type]
    postal_code: Str(20, min_length=1)  # type: ignore[valid-type]
    country: Country
    phone: Str(40) = ""  # type: ignore[valid-type]


class OrderIn(_In):
    customer_external_id: NaturalKey
    status: Literal["placed", "paid", "packed", "shipped", "out_for_delivery", "delivered", "returned",
                    "cancelled"] = "placed"
    currency: Currency = "EUR"
    lines: list[OrderLineIn] = Field(min_length=1, max_length=200)
    shipping_cents: Cents = 0
    tax_cents: Cents = 0
    discount_cents: Cents = 0
    shipping_address: AddressIn | None = None
    placed_at: Time | None = None


class OrderLineOut(_Out):
    sku: str
    name: str
    variant_label: str
    quantity: int
    unit_price_cents: int
    total_cents: int


class OrderOut(_Out):
    id: int
    number: str
    customer_external_id: str | None
    status: str
    currency: str
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    discount_cents: int
    total_cents: int
    placed_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]


# Shipments ---------------------------------------------------------------------------------

TAGS = ("Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
        "AvailableForPickup", "Exception", "Expired")


class ShipmentIn(_In):
    order_number: NaturalKey
    carrier_name: Str(80) = ""  # type: ignore[valid-type]
    tag: Literal["Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
                 "AvailableForPickup", "Exception", "Expired"] = "Pending"
    expected_delivery_start: Time | None = None
    expected_delivery_end: Time | None = None


class ShipmentOut(_Out):
    id: int
    carrier: str
    carrier_name: str
    tracking_number: str
    order_number: str
    tag: str
    expected_delivery_start: datetime | None
    expected_delivery_end: datetime | None
    next_poll_at: datetime | None
    updated_at: datetime


# Invoices ----------------------------------------------------------------------------------

class InvoiceLineIn(_In):
    description: Str(300, min_length=1)  # type: ignore[valid-type]
    quantity: int = Field(default=1, ge=1, le=10_000)
    unit_price_cents: int = Field(ge=0, le=10_000_000)
    tax_rate_bp: int = Field(default=0, ge=0, le=10_000)


class InvoiceIn(_In):
    customer_external_id: NaturalKey
    order_number: NaturalKey | None = None
    kind: Literal["invoice", "credit_note"] = "invoice"
    status: Literal["draft", "open", "paid", "void"] = "open"
    currency: Currency = "EUR"
    issued_at: Time
    due_at: Time | None = None
    payment_terms_days: int = Field(default=14, ge=0, le=365)
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=200)


class InvoiceLineOut(_Out):
    description: str
    quantity: int
    unit_price_cents: int
    tax_rate_bp: int
    total_cents: int


class InvoiceOut(_Out):
    id: int
    number: str
    customer_external_id: str | None
    order_number: str | None
    kind: str
    status: str
    currency: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    issued_at: datetime
    due_at: datetime | None
    lines: list[InvoiceLineOut]


# Payments ----------------------------------------------------------------------------------

class PaymentIn(_In):
    customer_external_id: NaturalKey
    invoice_number: NaturalKey | None = None
    amount_cents: int = Field(ge=1, le=1_000_000_000)
    currency: Currency = "EUR"
    method: Literal["card", "bank_transfer", "store_credit"] = "card"
    method_label: Str(60) = ""  # type: ignore[valid-type]
    status: Literal["pending", "succeeded", "failed", "refunded"] = "succeeded"
    failure_reason: Str(200) = ""  # type: ignore[valid-type]


class PaymentOut(_Out):
    id: int
    reference: str
    customer_external_id: str | None
    invoice_number: str | None
    amount_cents: int
    currency: str
    method: str
    method_label: str
    status: str
    created_at: datetime
    completed_at: datetime | None


# Documents ---------------------------------------------------------------------------------

class DocumentIn(_In):
    customer_external_id: NaturalKey
    order_number: NaturalKey | None = None
    kind: Literal["contract", "terms", "certificate", "shared"] = "shared"
    status: Literal["available", "requested", "awaiting_signature"] = "available"
    title: Str(200, min_length=1)  # type: ignore[valid-type]
    description: Str(1000) = ""  # type: ignore[valid-type]


class DocumentOut(_Out):
    id: int
    external_id: str | None
    customer_external_id: str | None
    kind: str
    status: str
    title: str
    description: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    signed_at: datetime | None
    signed_name: str = ""  # the name typed to sign (the account holder's)
    created_at: datetime


# Help articles -----------------------------------------------------------------------------

class ArticleIn(_In):
    title: Str(200, min_length=1)  # type: ignore[valid-type]
    category_slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
    category_name: Str(120) = ""  # type: ignore[valid-type]
    summary: Str(400) = ""  # type: ignore[valid-type]
    body_md: Str(100_000) = ""  # type: ignore[valid-type]
    status: Literal["draft", "published"] = "draft"
    position: int = Field(default=0, ge=0, le=100_000)


class ArticleOut(_Out):
    id: int
    slug: str
    title: str
    category_slug: str
    summary: str
    body_md: str
    status: str
    position: int
    published_at: datetime | None
    updated_at: datetime


# Envelopes ---------------------------------------------------------------------------------

class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[dict[str, str]] = Field(default_factory=list)
