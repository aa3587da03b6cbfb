"""Photos a customer attaches to a return: private files, stored under server-chosen names."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk


class ReturnPhoto(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    # Empty while staged in the return form; set when the return is submitted.
    return_id: int | None = Field(default=None, foreign_key="return.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size_bytes: int = 0
    sha256: str = Field(default="", max_length=64)
    storage_key: str = Field(max_length=255, unique=True)
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()
