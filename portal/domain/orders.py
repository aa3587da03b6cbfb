"""Order queries for customers. Every query is scoped to the principal's own customer id."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from portal.domain.errors import NotFound
from portal.domain.principal import Principal, require_customer
from portal.models import Order, OrderLine, OrderLinePublic, OrderPublic


def _to_public(order: Order, item_count: int, first_item: str) -> OrderPublic:
    return OrderPublic.model_validate(order, from_attributes=True,
                                      update={"item_count": item_count, "first_item": first_item})


def recent_orders(session: Session, *, principal: Principal, limit: int = 5) -> list[OrderPublic]:
    customer_id = require_customer(principal)
    limit = max(1, min(limit, 50))
    orders = session.exec(
        select(Order).where(Order.customer_id == customer_id)
        .order_by(col(Order.placed_at).desc(), col(Order.id).desc()).limit(limit)
    ).all()
    return _with_line_summaries(session, list(orders))


def _with_line_summaries(session: Session, orders: list[Order]) -> list[OrderPublic]:
    """One extra query for all orders on the page, not one per order."""
    ids = [o.id for o in orders]
    counts: dict[int, tuple[int, str]] = {}
    if ids:
        rows = session.exec(
            select(OrderLine.order_id, func.sum(OrderLine.quantity), func.min(OrderLine.name))
            .where(col(OrderLine.order_id).in_(ids)).group_by(col(OrderLine.order_id))
        ).all()
        counts = {oid: (int(qty or 0), name or "") for oid, qty, name in rows}
    return [_to_public(o, *counts.get(o.id or 0, (0, ""))) for o in orders]


def get_order(session: Session, *, principal: Principal, order_id: int) -> tuple[OrderPublic, list[OrderLinePublic]]:
    customer_id = require_customer(principal)
    order = session.get(Order, order_id)
    # Someone else's order is "not found", exactly like a missing one.
    if order is None or order.customer_id != customer_id:
        raise NotFound("order")
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))).all()
    summary = _with_line_summaries(session, [order])[0]
    return summary, [OrderLinePublic.model_validate(line, from_attributes=True) for line in lines]
