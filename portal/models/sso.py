"""Single sign-on flows already completed: a callback is accepted once only."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from portal.models.base import created_at_field


class SsoFlowUse(SQLModel, table=True):
    """The SHA-256 of a completed flow's `state`. The flow cookie is cleared at the callback,
    but a copied cookie must not work twice either; rows past `expires_at` can be deleted."""

    state_hash: str = Field(primary_key=True, max_length=64)
    used_at: datetime = created_at_field()
    expires_at: datetime = Field(index=True)
