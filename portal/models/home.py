"""Personal home: offer rules and the offers they produce, and the portal's own analytics events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class OfferRuleKind(StrEnum):
    AFTER_RETURN = "after_return"  # store credit or a bonus after a return
    LOYALTY_TIER = "loyalty_tier"  # customers who spent at least min_spend_cents
    REPEAT_PURCHASE = "repeat_purchase"  # reorder reminder / early access after min_orders orders
    REGION = "region"  # customers in one of the countries


class OfferRule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(24), index=True)
    title: str = Field(max_length=120)
    description: str = Field(default="", max_length=500)
    # What the customer gets: store credit in cents, a percentage, or nothing but the message.
    reward_cents: int = 0
    percent_off: int = 0
    # Conditions, by kind: min_spend_cents, min_orders, countries ("GB,IE"), within_days.
    params: dict[str, Any] = json_field(dict)
    # How long an offer lasts once a customer qualifies.
    valid_days: int = 30
    active: bool = True
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()


class OfferStatus(StrEnum):
    OPEN = "open"
    APPLIED = "applied"
    DISMISSED = "dismissed"


class CustomerOffer(SQLModel, table=True):
    """One rule's offer to one customer, with the reason it was chosen."""

    __table_args__ = (UniqueConstraint("rule_id", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = fk("offerrule.id", ondelete="CASCADE")
    customer_id: int = fk("customer.id", ondelete="CASCADE")
    reason: str = Field(default="", max_length=300)
    status: str = Field(default=OfferStatus.OPEN, sa_type=String(12), index=True)
    expires_at: datetime
    decided_at: datetime | None = None
    decided_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()


class AnalyticsEvent(SQLModel, table=True):
    """What people do in the portal, recorded by the portal itself (no third-party tracker).

    kind: page_view, action, form_start, form_abandon. Never holds what was typed into a form:
    only page paths, names of actions and field names.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    kind: str = Field(sa_type=String(16), index=True)
    path: str = Field(default="", max_length=200, index=True)
    name: str = Field(default="", max_length=80)
    created_at: datetime = created_at_field()
