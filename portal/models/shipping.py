"""Shipments and their tracking checkpoints (AfterShip's vocabulary of tags and subtags)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.i18n import N_
from portal.models.base import created_at_field, fk, json_field


class TrackingTag(StrEnum):
    """The nine AfterShip status tags."""

    PENDING = "Pending"
    INFO_RECEIVED = "InfoReceived"
    IN_TRANSIT = "InTransit"
    OUT_FOR_DELIVERY = "OutForDelivery"
    ATTEMPT_FAIL = "AttemptFail"
    DELIVERED = "Delivered"
    AVAILABLE_FOR_PICKUP = "AvailableForPickup"
    EXCEPTION = "Exception"
    EXPIRED = "Expired"


TAG_LABELS: dict[str, str] = {
    TrackingTag.PENDING: N_("Pending"),
    TrackingTag.INFO_RECEIVED: N_("Info received"),
    TrackingTag.IN_TRANSIT: N_("In transit"),
    TrackingTag.OUT_FOR_DELIVERY: N_("Out for delivery"),
    TrackingTag.ATTEMPT_FAIL: N_("Failed attempt"),
    TrackingTag.DELIVERED: N_("Delivered"),
    TrackingTag.AVAILABLE_FOR_PICKUP: N_("Ready for pickup"),
    TrackingTag.EXCEPTION: N_("Exception"),
    TrackingTag.EXPIRED: N_("Expired"),
}


class Shipment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("carrier", "tracking_number"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = fk("order.id")
    # Denormalised owner: authorisation and live push need it without a join.
    customer_id: int = fk("customer.id")
    carrier: str = Field(max_length=40)  # AfterShip slug, e.g. "dhl"
    carrier_name: str = Field(default="", max_length=80)
    tracking_number: str = Field(max_length=64, index=True)
    tracking_provider_id: str | None = Field(default=None, max_length=64, index=True)
    tag: str = Field(default=TrackingTag.PENDING, sa_type=String(24), index=True)
    subtag: str = Field(default="Pending_001", max_length=32)
    subtag_message: str = Field(default="", max_length=200)
    expected_delivery_start: datetime | None = None
    expected_delivery_end: datetime | None = None
    # The first promise, to show whether delivery slipped.
    original_expected_delivery: datetime | None = None
    delivered_at: datetime | None = None
    # Newest snapshot applied; an older snapshot never overwrites a newer one.
    provider_updated_at: datetime | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = Field(default=None, index=True)
    poll_failures: int = 0
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class ShipmentPublic(SQLModel):
    id: int
    order_id: int
    carrier: str
    carrier_name: str
    tracking_number: str
    tag: str
    subtag: str
    subtag_message: str
    expected_delivery_start: datetime | None
    expected_delivery_end: datetime | None
    original_expected_delivery: datetime | None
    delivered_at: datetime | None
    updated_at: datetime


class TrackingEvent(SQLModel, table=True):
    """One carrier checkpoint; `checkpoint_key` makes storing it idempotent."""

    __table_args__ = (UniqueConstraint("shipment_id", "checkpoint_key"),)
    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = fk("shipment.id", ondelete="CASCADE")
    checkpoint_key: str = Field(max_length=64)
    occurred_at: datetime = Field(index=True)
    tag: str = Field(sa_type=String(24))
    subtag: str = Field(default="", max_length=32)
    message: str = Field(default="", max_length=500)
    location: str = Field(default="", max_length=200)
    raw: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


@dataclasses.dataclass(frozen=True, slots=True)
class TrackingEventPublic:
    """A checkpoint as the shipment page shows it: a plain record (an open page reads them all again
    on every carrier update, so no validation of what the database returns)."""

    id: int
    occurred_at: datetime
    tag: str
    subtag: str
    message: str
    location: str


class CarrierWebhookEvent(SQLModel, table=True):
    """Each inbound carrier webhook delivery, stored once by its event id."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=100, unique=True, index=True)
    provider: str = Field(default="aftership", max_length=32)
    received_at: datetime = created_at_field()
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id")
    outcome: str = Field(default="", max_length=32)
