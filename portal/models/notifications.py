"""In-portal notifications (the bell in the header)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk


class NotificationKind(StrEnum):
    SHIPPING = "shipping"
    SUPPORT = "support"
    BILLING = "billing"
    OFFERS = "offers"
    DOCUMENTS = "documents"
    ACCOUNT = "account"


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user.id", ondelete="CASCADE")
    kind: str = Field(sa_type=String(12), index=True)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=1000)
    link: str = Field(default="", max_length=300)
    # "Get help with this" for a problem (a delayed or failed delivery): the pre-filled ticket form.
    help_link: str = Field(default="", max_length=300)
    read_at: datetime | None = Field(default=None, index=True)
    emailed_at: datetime | None = None
    created_at: datetime = created_at_field()


class NotificationPublic(SQLModel):
    id: int
    kind: str
    title: str
    body: str
    link: str
    help_link: str = ""
    read: bool
    created_at: datetime
