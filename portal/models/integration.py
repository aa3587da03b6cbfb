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
    # Threading (Message-ID, In-Reply-To, References, Reply-To) for mail that belongs to a ticket;
    # a bounce names the Message-ID, which leads back to the ticket message.
    message_id: str | None = Field(default=None, max_length=500, index=True)
    headers: dict[str, str] = json_field(dict)
    ticket_message_id: int | None = Field(default=None, foreign_key="ticketmessage.id")
    bounced_at: datetime | None = None


class JobRun(SQLModel, table=True):
    """One run of a scheduled job. The unique (name, tick) lets one worker run each tick; the
    job's JobLease keeps a run that outlasts its interval from overlapping the next one."""

    __table_args__ = (UniqueConstraint("name", "tick"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    tick: int
    worker: str = Field(default="", max_length=64)
    started_at: datetime = created_at_field()
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)  # running, ok, failed, interrupted
    detail: str = Field(default="", max_length=1000)


class JobLease(SQLModel, table=True):
    """Who runs a job now, and until when: the holder renews it while the job runs and clears it
    when done. A lease whose time ran out belongs to a worker that died (or hung): the next
    worker takes it over and marks that worker's run interrupted."""

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(default="", max_length=64)
    run_id: int | None = None
    until: datetime | None = None
