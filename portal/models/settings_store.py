"""Settings an admin changes in the portal (not deployment configuration)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, json_field


class PortalSetting(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = json_field(dict)
    updated_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = created_at_field()
