"""Integration API: keys for the business's systems, idempotent writes, outbound webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class ApiKey(SQLModel, table=True):
    """Only the SHA-256 of the key is stored; `prefix` is the visible part that names it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=24, unique=True, index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    # e.g. ["orders:write", "customers:read"]; write includes read.
    scopes: list[str] = json_field(list)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    # Set when a rotation replaced this key.
    replaced_by_id: int | None = Field(default=None, foreign_key="apikey.id")


class IdempotencyRecord(SQLModel, table=True):
    """The answer to a write, replayed when the same key sends the same request again."""

    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = fk("apikey.id", ondelete="CASCADE")
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class WebhookEndpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    description: str = Field(default="", max_length=200)
    # Encrypted at rest (secrets_box): the server must read it back to sign.
    secret_encrypted: str = Field(max_length=500)
    kinds: list[str] = json_field(list)  # empty: every kind
    active: bool = True
    # Outbox rows up to this id have been fanned out to this endpoint.
    last_outbound_id: int = 0
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()


class WebhookDelivery(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("endpoint_id", "outbound_event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = fk("webhookendpoint.id", ondelete="CASCADE")
    outbound_event_id: int = fk("outboundevent.id", ondelete="CASCADE")
    status: str = Field(default="pending", max_length=12, index=True)  # pending, succeeded, failed
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True)
    last_status_code: int | None = None
    last_response: str = Field(default="", max_length=2000)
    last_error: str = Field(default="", max_length=500)
    delivered_at: datetime | None = None
    created_at: datetime = created_at_field()
