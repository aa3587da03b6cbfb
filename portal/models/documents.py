"""Customer documents: contracts, terms, certificates, shared files, uploads, return labels."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk


class DocumentKind(StrEnum):
    CONTRACT = "contract"
    TERMS = "terms"
    CERTIFICATE = "certificate"
    SHARED = "shared"
    UPLOAD = "upload"
    RETURN_LABEL = "return_label"


class DocumentStatus(StrEnum):
    AVAILABLE = "available"
    REQUESTED = "requested"  # the business asks the customer to upload it
    AWAITING_SIGNATURE = "awaiting_signature"
    SIGNED = "signed"


class Document(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk("customer.id")
    order_id: int | None = Field(default=None, foreign_key="order.id")
    kind: str = Field(sa_type=String(16), index=True)
    status: str = Field(default=DocumentStatus.AVAILABLE, sa_type=String(20), index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=1000)
    # Empty until a file exists (a requested upload has none yet).
    filename: str = Field(default="", max_length=255)
    content_type: str = Field(default="", max_length=100)
    size_bytes: int = 0
    sha256: str = Field(default="", max_length=64)
    storage_key: str | None = Field(default=None, max_length=255, unique=True)
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    signed_at: datetime | None = None
    signed_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    signed_ip: str = Field(default="", max_length=64)
    signed_sha256: str = Field(default="", max_length=64)
    # The name the person typed to sign, as typed (checked against the account holder's name).
    signed_name: str = Field(default="", max_length=200)
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    created_at: datetime = created_at_field()


class DocumentPublic(SQLModel):
    id: int
    kind: str
    status: str
    title: str
    description: str
    filename: str
    content_type: str
    size_bytes: int
    signed_at: datetime | None
    created_at: datetime
