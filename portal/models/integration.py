"""The outbox of events for the business's own systems (signed outbound webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, json_field


class OutboundEvent(SQLModel, table=True):
    """Written in the same transaction as the change it reports; delivered by a job."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=64, index=True)  # e.g. "order.cancel_requested"
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    payload: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class MailMessage(SQLModel, table=True):
    """Every email the portal sends, queued with the change that caused it."""

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    body_text: str
    kind: str = Field(default="", max_length=32, index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)


class JobRun(SQLModel, table=True):
    """One run of a scheduled job. The unique (name, tick) is the lock: of all the workers
    and instances whose scheduler fires for a tick, exactly one inserts the row and runs."""

    __table_args__ = (UniqueConstraint("name", "tick"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    tick: int
    worker: str = Field(default="", max_length=64)
    started_at: datetime = created_at_field()
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)  # running, ok, failed
    detail: str = Field(default="", max_length=1000)
