"""Shared column helpers and enumerations used across the model modules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from portal.db import utcnow


def created_at_field() -> Any:
    return Field(default_factory=utcnow, nullable=False, index=True)


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: Any = None) -> Any:
    kwargs: dict[str, Any] = {"foreign_key": target, "nullable": nullable, "index": index}
    if ondelete:
        kwargs["ondelete"] = ondelete
    return Field(default=None if nullable else ..., **kwargs)


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


__all__ = ["Role", "created_at_field", "datetime", "fk", "json_field"]
