"""Ticket queries for customers, scoped to their own customer id."""

from __future__ import annotations

from sqlmodel import Session, col, select

from portal.domain.principal import Principal, require_customer
from portal.models import OPEN_TICKET_STATUSES, Ticket, TicketPublic


def open_tickets(session: Session, *, principal: Principal, limit: int = 5) -> list[TicketPublic]:
    customer_id = require_customer(principal)
    rows = session.exec(
        select(Ticket).where(Ticket.customer_id == customer_id,
                             col(Ticket.status).in_([str(s) for s in OPEN_TICKET_STATUSES]))
        .order_by(col(Ticket.updated_at).desc()).limit(max(1, min(limit, 50)))
    ).all()
    return [TicketPublic.model_validate(t, from_attributes=True) for t in rows]


def queue_summary(session: Session, *, principal: Principal) -> dict[str, int]:
    """Open tickets per priority, for the staff home."""
    from sqlalchemy import func

    from portal.domain.principal import require_staff

    require_staff(principal)
    rows = session.exec(
        select(Ticket.priority, func.count())
        .where(col(Ticket.status).in_([str(s) for s in OPEN_TICKET_STATUSES]))
        .group_by(Ticket.priority)
    ).all()
    counts = {str(p): int(n) for p, n in rows}
    return {p: counts.get(p, 0) for p in ("urgent", "high", "normal", "low")}
