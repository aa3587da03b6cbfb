"""Orders, their lines, their history, and returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from portal.i18n import N_
from portal.models.base import created_at_field, fk, json_field


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


ORDER_STATUS_LABELS: dict[str, str] = {
    OrderStatus.PLACED: N_("Placed"),
    OrderStatus.PAID: N_("Paid"),
    OrderStatus.PACKED: N_("Packed"),
    OrderStatus.SHIPPED: N_("Shipped"),
    OrderStatus.OUT_FOR_DELIVERY: N_("Out for delivery"),
    OrderStatus.DELIVERED: N_("Delivered"),
    OrderStatus.RETURNED: N_("Returned"),
    OrderStatus.CANCELLED: N_("Cancelled"),
}


class OrderBase(SQLModel):
    number: str = Field(max_length=32, unique=True, index=True)
    currency: str = Field(default="EUR", max_length=3)
    subtotal_cents: int = 0
    shipping_cents: int = 0
    tax_cents: int = 0
    discount_cents: int = 0
    total_cents: int = 0


class Order(OrderBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    status: str = Field(default=OrderStatus.PLACED, sa_type=String(24), index=True)
    shipping_address: dict[str, Any] = json_field(dict)
    billing_address: dict[str, Any] = json_field(dict)
    delivery_window_start: datetime | None = None
    delivery_window_end: datetime | None = None
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    placed_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class OrderPublic(OrderBase):
    id: int
    status: str
    placed_at: datetime
    item_count: int = 0
    first_item: str = ""


class OrderLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = fk("order.id", ondelete="CASCADE")
    variant_id: int | None = Field(default=None, foreign_key="productvariant.id")
    sku: str = Field(max_length=64)
    name: str = Field(max_length=200)
    variant_label: str = Field(default="", max_length=120)
    quantity: int = Field(ge=1)
    unit_price_cents: int = Field(ge=0)
    total_cents: int = Field(ge=0)
    returned_quantity: int = 0


class OrderLinePublic(SQLModel):
    id: int
    sku: str
    name: str
    variant_label: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    returned_quantity: int


class OrderEvent(SQLModel, table=True):
    """Everything that happened to an order, shown in time order on its page."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = fk("order.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)  # placed, paid, packed, shipped, cancel_requested, ...
    message: str = Field(default="", max_length=500)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    actor_kind: str = Field(default="system", max_length=16)  # customer, agent, assistant, system, api
    data: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    REFUNDED = "refunded"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class RefundMethod(StrEnum):
    ORIGINAL = "original_payment"
    STORE_CREDIT = "store_credit"


class Return(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True, index=True)
    order_id: int = fk("order.id")
    customer_id: int = fk("customer.id")
    status: str = Field(default=ReturnStatus.REQUESTED, sa_type=String(16), index=True)
    reason: str = Field(default="", max_length=500)
    refund_method: str = Field(default=RefundMethod.ORIGINAL, sa_type=String(24))
    refund_cents: int = 0
    currency: str = Field(default="EUR", max_length=3)
    label_document_id: int | None = Field(default=None, foreign_key="document.id")
    received_at: datetime | None = None
    refunded_at: datetime | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class ReturnLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    return_id: int = fk("return.id", ondelete="CASCADE")
    order_line_id: int = fk("orderline.id")
    quantity: int = Field(ge=1)
    reason: str = Field(default="", max_length=200)
    condition: str = Field(default="", max_length=60)


class ReturnPublic(SQLModel):
    id: int
    number: str
    order_id: int
    status: str
    reason: str
    refund_method: str
    refund_cents: int
    currency: str
    created_at: datetime
