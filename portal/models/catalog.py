"""What the business sells: products and their variants (size, colour)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field, fk, json_field


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    description: str = ""
    category: str = Field(default="", max_length=60)
    active: bool = True
    created_at: datetime = created_at_field()


class ProductVariant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = fk("product.id", ondelete="CASCADE")
    sku: str = Field(max_length=64, unique=True, index=True)
    # {"size": "M", "colour": "Forest green"}
    attributes: dict[str, Any] = json_field(dict)
    price_cents: int = Field(ge=0)
    currency: str = Field(default="EUR", max_length=3)
    stock: int = 0
    active: bool = True


class ProductVariantPublic(SQLModel):
    id: int
    product_id: int
    sku: str
    attributes: dict[str, Any]
    price_cents: int
    currency: str
    stock: int
