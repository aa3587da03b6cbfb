"""Append-only audit trail of security-relevant and business-relevant actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, json_field


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=64, index=True)  # e.g. "auth.login", "order.cancel"
    actor_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    # Who acted: "user", "assistant" (on behalf of actor_user_id), "system", "api".
    actor_kind: str = Field(default="user", max_length=16)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    outcome: str = Field(default="ok", max_length=16)  # ok, denied, failed
    ip_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)
    data: dict[str, Any] = json_field(dict)
    created_at: datetime = created_at_field()


class AuditEventPublic(SQLModel):
    id: int
    action: str
    actor_user_id: int | None
    actor_kind: str
    target_type: str
    target_id: str
    outcome: str
    ip_address: str
    created_at: datetime
