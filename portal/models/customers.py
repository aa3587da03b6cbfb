"""Customer accounts, their addresses and preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class CustomerBase(SQLModel):
    name: str = Field(max_length=200)
    email: str = Field(max_length=320, index=True)
    phone: str = Field(default="", max_length=40)
    company: str = Field(default="", max_length=200)
    vat_number: str = Field(default="", max_length=32)
    country: str = Field(default="GB", max_length=2)
    currency: str = Field(default="EUR", max_length=3)


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    # Key of this customer in the business's own systems (CRM/ERP), for API upserts.
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    # Stripe's Customer (cus_...), made when the customer first saves a card.
    stripe_customer_id: str | None = Field(default=None, max_length=100, unique=True)
    loyalty_tier: str = Field(default="standard", max_length=16)
    # A contact known only by the email address they wrote to support from (no portal account).
    guest: bool = False
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    closed_at: datetime | None = None


class CustomerCreate(CustomerBase):
    external_id: str | None = None


class CustomerUpdate(SQLModel):
    name: str | None = None
    phone: str | None = None
    company: str | None = None
    country: str | None = None


class CustomerPublic(CustomerBase):
    id: int
    number: str
    loyalty_tier: str


class AddressBase(SQLModel):
    label: str = Field(default="", max_length=60)
    name: str = Field(max_length=200)
    company: str = Field(default="", max_length=200)
    line1: str = Field(max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(max_length=20)
    country: str = Field(max_length=2)
    phone: str = Field(default="", max_length=40)


class Address(AddressBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id", ondelete="CASCADE")
    is_default_shipping: bool = False
    is_default_billing: bool = False
    created_at: datetime = created_at_field()


class AddressCreate(AddressBase):
    pass


class AddressUpdate(SQLModel):
    label: str | None = None
    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None


class AddressPublic(AddressBase):
    id: int
    is_default_shipping: bool
    is_default_billing: bool


def address_snapshot(address: AddressBase) -> dict[str, Any]:
    """Orders keep a copy of the address as it was, so later edits do not rewrite history."""
    return AddressBase.model_validate(address, from_attributes=True).model_dump()


class UserPreference(SQLModel, table=True):
    """Per-user settings that follow them to every device."""

    user_id: int = Field(primary_key=True, foreign_key="user.id", ondelete="CASCADE")
    theme: str = Field(default="system", max_length=8)
    # Email per notification kind; the portal always shows them in-app.
    email_shipping: bool = True
    email_support: bool = True
    email_billing: bool = True
    email_offers: bool = False
    # Ordered widgets: [{"kind": "recent_orders", "size": "md", "options": {...}}, ...]
    dashboard_layout: list[dict[str, Any]] = json_field(list)
    updated_at: datetime = created_at_field()
