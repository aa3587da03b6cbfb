"""Events for the business's own systems, recorded in the same transaction as the change.

A delivery job signs and sends them to the configured endpoints; recording here means a
change and its announcement commit or roll back together.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from portal.models import OutboundEvent


def enqueue(session: Session, *, kind: str, customer_id: int | None, payload: dict[str, Any]) -> OutboundEvent:
    row = OutboundEvent(event_id=f"evt_{uuid.uuid4().hex}", kind=kind, customer_id=customer_id, payload=payload)
    session.add(row)
    return row
