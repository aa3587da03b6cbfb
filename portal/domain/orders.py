"""Order queries for customers. Every query is scoped to the principal's own customer id.

Listing pages and the detail view use a fixed number of SQL statements, whatever the number
of orders: rows are loaded in batches (`IN (...)`), never one query per order.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain.errors import Invalid, NotFound
from portal.domain.order_policy import OrderPolicy, WindowOffer, current_policy
from portal.domain.principal import Principal, require_customer
from portal.models import (
    Address,
    AddressPublic,
    Document,
    DocumentPublic,
    Order,
    OrderEvent,
    OrderLine,
    OrderLinePublic,
    OrderPublic,
    OrderStatus,
    Payment,
    PaymentPublic,
    ProductVariant,
    Return,
    ReturnLine,
    ReturnPhoto,
    ReturnPublic,
    ReturnStatus,
    Shipment,
    ShipmentPublic,
    TrackingTag,
)

# Returns that still hold their lines (not yet refunded, rejected or cancelled).
OPEN_RETURN_STATUSES = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.LABEL_ISSUED,
                        ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED)
DISPATCHED = (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED, OrderStatus.RETURNED)
MAX_QUERY = 100


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


def own_order(session: Session, *, customer_id: int, order_id: Any, for_update: bool = False) -> Order:
    """The customer's order; someone else's order is "not found", exactly like a missing one."""
    if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
        raise NotFound("order")
    order = session.get(Order, order_id, with_for_update=for_update or None)
    if order is None or order.customer_id != customer_id:
        raise NotFound("order")
    return order


def get_order(session: Session, *, principal: Principal, order_id: int) -> tuple[OrderPublic, list[OrderLinePublic]]:
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id)
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))).all()
    summary = _with_line_summaries(session, [order])[0]
    return summary, [OrderLinePublic.model_validate(line, from_attributes=True) for line in lines]


# -- order history -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class OrderFilter:
    query: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[OrderPublic]
    page: int
    page_size: int
    total: int
    has_any_orders: bool  # tells "no orders yet" from "nothing matches"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_orders(session: Session, *, principal: Principal, filters: OrderFilter = OrderFilter(), page: int = 1,
                page_size: int = 20) -> OrderPage:
    """One page of the customer's orders, newest first: three statements whatever the page or
    the number of orders (count, page rows, line summaries of the page)."""
    customer_id = require_customer(principal)
    query = filters.query.strip()
    if len(query) > MAX_QUERY:
        raise Invalid("query too long", field="query")
    if filters.status and filters.status not in OrderStatus.__members__.values():
        raise Invalid("unknown status", field="status")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise Invalid("date range reversed", field="date_to")
    page_size = max(1, min(int(page_size), 100))
    page = max(1, int(page))

    conds: list[Any] = [Order.customer_id == customer_id]
    if query:
        pattern = f"%{_escape_like(query)}%"
        has_product = (select(OrderLine.id).where(OrderLine.order_id == Order.id)
                       .where(or_(col(OrderLine.name).ilike(pattern, escape="\\"),
                                  col(OrderLine.sku).ilike(pattern, escape="\\")))
                       .exists())
        conds.append(or_(col(Order.number).ilike(pattern, escape="\\"), has_product))
    if filters.status:
        conds.append(Order.status == filters.status)
    if filters.date_from:
        conds.append(col(Order.placed_at) >= datetime.combine(filters.date_from, time.min, tzinfo=UTC))
    if filters.date_to:
        conds.append(col(Order.placed_at) < datetime.combine(filters.date_to + timedelta(days=1), time.min,
                                                             tzinfo=UTC))
    filtered = bool(query or filters.status or filters.date_from or filters.date_to)
    total = int(session.exec(select(func.count(col(Order.id))).where(*conds)).one())
    overall = total
    if filtered and total == 0:
        # Only for the empty state: "no orders yet" reads differently from "nothing matches".
        overall = int(session.exec(select(func.count(col(Order.id))).where(Order.customer_id == customer_id)).one())
    last_page = max(1, -(-total // page_size))
    page = min(page, last_page)
    rows = session.exec(
        select(Order).where(*conds).order_by(col(Order.placed_at).desc(), col(Order.id).desc())
        .offset((page - 1) * page_size).limit(page_size)
    ).all() if total else []
    return OrderPage(orders=_with_line_summaries(session, list(rows)), page=page, page_size=page_size,
                     total=total, has_any_orders=overall > 0)


# -- one order, everything about it ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class EventView:
    kind: str
    message: str
    actor_kind: str
    created_at: datetime
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the sentence said, to word it again


@dataclasses.dataclass(frozen=True, slots=True)
class ReturnView:
    ret: ReturnPublic
    lines: list[tuple[str, int]]  # (item name, quantity)
    has_label: bool
    photo_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class VariantChoice:
    id: int
    label: str
    stock: int


@dataclasses.dataclass(frozen=True, slots=True)
class OrderDetail:
    order: OrderPublic
    lines: list[OrderLinePublic]
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    delivery_window_start: datetime | None
    delivery_window_end: datetime | None
    payments: list[PaymentPublic]
    shipments: list[ShipmentPublic]
    documents: list[DocumentPublic]
    returns: list[ReturnView]
    events: list[EventView]
    # action -> "" when allowed now, else the reason code it is not
    actions: dict[str, str]
    returnable: dict[int, int]  # line id -> quantity that can still be returned
    variant_choices: dict[int, list[VariantChoice]]  # line id -> other variants of the same product
    saved_addresses: list[AddressPublic]
    window_carrier: str
    window_offers: list[WindowOffer]
    delivered_at: datetime | None
    return_deadline: datetime | None


def variant_label(attributes: dict[str, Any]) -> str:
    return " / ".join(str(v) for v in attributes.values())


def _delivered_at(order: Order, shipments: list[Shipment], events: list[OrderEvent]) -> datetime | None:
    times = [s.delivered_at for s in shipments if s.delivered_at is not None]
    if times:
        return max(times)
    delivered = [e.created_at for e in events if e.kind == "delivered"]
    if delivered:
        return max(delivered)
    return order.updated_at if order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED) else None


def state_reason(action: str, status: str) -> str:
    """Why the order's state does not allow an action (a code the UI words)."""
    if status == OrderStatus.CANCELLED:
        return "order_cancelled"
    if action == "return":
        return "not_delivered" if status not in (OrderStatus.DELIVERED, OrderStatus.RETURNED) else "not_allowed"
    if status in DISPATCHED:
        return "already_dispatched"
    if status == OrderStatus.PACKED:
        return "already_packed"
    return "not_allowed"


def window_carrier(order: Order, shipments: list[Shipment], policy: OrderPolicy) -> str:
    """The carrier that will deliver: the open shipment's, else the one planned for the country."""
    for s in shipments:
        if s.tag not in (TrackingTag.DELIVERED, TrackingTag.EXPIRED):
            return s.carrier
    return policy.planned_carrier(str(order.shipping_address.get("country", "")))


def availability(order: Order, *, policy: OrderPolicy, now: datetime, shipments: list[Shipment],
                 returnable: dict[int, int], delivered_at: datetime | None,
                 variant_choices: dict[int, list[VariantChoice]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for action in ("cancel", "change_address", "change_variant", "delivery_window", "return", "reorder"):
        out[action] = "" if policy.allows(action, order.status) else state_reason(action, order.status)
    if not out["change_variant"] and not any(variant_choices.values()):
        out["change_variant"] = "no_other_variants"
    if not out["delivery_window"] and not policy.carrier_slots.get(window_carrier(order, shipments, policy)):
        out["delivery_window"] = "carrier_has_no_windows"
    if not out["return"]:
        if delivered_at is None or now > delivered_at + timedelta(days=policy.return_window_days):
            out["return"] = "return_window_closed"
        elif not any(q > 0 for q in returnable.values()):
            out["return"] = "nothing_to_return"
    return out


def open_return_quantities(session: Session, line_ids: list[int]) -> dict[int, int]:
    if not line_ids:
        return {}
    rows = session.exec(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(Return, col(Return.id) == ReturnLine.return_id)
        .where(col(ReturnLine.order_line_id).in_(line_ids), col(Return.status).in_(OPEN_RETURN_STATUSES))
        .group_by(col(ReturnLine.order_line_id))
    ).all()
    return {lid: int(q or 0) for lid, q in rows}


def returnable_quantities(session: Session, lines: list[OrderLine]) -> dict[int, int]:
    pending = open_return_quantities(session, [ln.id for ln in lines if ln.id])
    return {ln.id: max(0, ln.quantity - ln.returned_quantity - pending.get(ln.id, 0)) for ln in lines if ln.id}


def _variant_choices(session: Session, lines: list[OrderLine]) -> dict[int, list[VariantChoice]]:
    """Other in-stock variants of each line's product at the same price (one statement)."""
    variant_ids = [ln.variant_id for ln in lines if ln.variant_id]
    if not variant_ids:
        return {ln.id or 0: [] for ln in lines}
    current = {v.id: v for v in session.exec(select(ProductVariant).where(col(ProductVariant.id).in_(variant_ids)))}
    product_ids = {v.product_id for v in current.values()}
    siblings = session.exec(
        select(ProductVariant).where(col(ProductVariant.product_id).in_(product_ids),
                                     ProductVariant.active == True)  # noqa: E712
        .order_by(col(ProductVariant.id))
    ).all()
    out: dict[int, list[VariantChoice]] = {}
    for ln in lines:
        mine = current.get(ln.variant_id) if ln.variant_id else None
        out[ln.id or 0] = [] if mine is None else [
            VariantChoice(id=v.id or 0, label=variant_label(v.attributes), stock=v.stock)
            for v in siblings
            if v.product_id == mine.product_id and v.id != mine.id and v.stock >= ln.quantity
            and v.price_cents == mine.price_cents
        ]
    return out


def order_detail(session: Session, *, principal: Principal, order_id: Any) -> OrderDetail:
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id)
    policy = current_policy()
    now = utcnow()
    lines = list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))))
    payments = session.exec(select(Payment).where(Payment.order_id == order.id, Payment.customer_id == customer_id)
                            .order_by(col(Payment.created_at))).all()
    shipments = list(session.exec(select(Shipment).where(Shipment.order_id == order.id,
                                                         Shipment.customer_id == customer_id)
                                  .order_by(col(Shipment.created_at))))
    documents = session.exec(select(Document).where(Document.order_id == order.id,
                                                    Document.customer_id == customer_id)
                             .order_by(col(Document.created_at))).all()
    returns = list(session.exec(select(Return).where(Return.order_id == order.id, Return.customer_id == customer_id)
                                .order_by(col(Return.created_at))))
    return_ids = [r.id for r in returns]
    rlines = session.exec(select(ReturnLine).where(col(ReturnLine.return_id).in_(return_ids))
                          .order_by(col(ReturnLine.id))).all() if return_ids else []
    photo_counts = dict(session.exec(
        select(ReturnPhoto.return_id, func.count(col(ReturnPhoto.id)))
        .where(col(ReturnPhoto.return_id).in_(return_ids)).group_by(col(ReturnPhoto.return_id))
    ).all()) if return_ids else {}
    events = list(session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id)
                               .order_by(col(OrderEvent.created_at), col(OrderEvent.id))))
    addresses = session.exec(select(Address).where(Address.customer_id == customer_id)
                             .order_by(col(Address.is_default_shipping).desc(), col(Address.id))).all()
    returnable = returnable_quantities(session, lines)
    choices = _variant_choices(session, lines)
    delivered_at = _delivered_at(order, shipments, events)
    actions = availability(order, policy=policy, now=now, shipments=shipments, returnable=returnable,
                           delivered_at=delivered_at, variant_choices=choices)
    carrier = window_carrier(order, shipments, policy)
    names = {ln.id: ln.name for ln in lines}
    return OrderDetail(
        order=_to_public(order, sum(ln.quantity for ln in lines), min((ln.name for ln in lines), default="")),
        lines=[OrderLinePublic.model_validate(ln, from_attributes=True) for ln in lines],
        shipping_address=dict(order.shipping_address), billing_address=dict(order.billing_address),
        delivery_window_start=order.delivery_window_start, delivery_window_end=order.delivery_window_end,
        payments=[PaymentPublic.model_validate(p, from_attributes=True) for p in payments],
        shipments=[ShipmentPublic.model_validate(s, from_attributes=True) for s in shipments],
        documents=[DocumentPublic.model_validate(d, from_attributes=True) for d in documents],
        returns=[ReturnView(ret=ReturnPublic.model_validate(r, from_attributes=True),
                            lines=[(names.get(rl.order_line_id, ""), rl.quantity) for rl in rlines
                                   if rl.return_id == r.id],
                            has_label=r.label_document_id is not None, photo_count=int(photo_counts.get(r.id, 0)))
                 for r in returns],
        events=[EventView(kind=e.kind, message=e.message, actor_kind=e.actor_kind, created_at=e.created_at,
                          data=dict(e.data or {}))
                for e in events],
        actions=actions, returnable=returnable, variant_choices=choices,
        saved_addresses=[AddressPublic.model_validate(a, from_attributes=True) for a in addresses],
        window_carrier=carrier,
        window_offers=policy.window_offers(carrier, now) if not actions["delivery_window"] else [],
        delivered_at=delivered_at,
        return_deadline=delivered_at + timedelta(days=policy.return_window_days) if delivered_at else None,
    )
