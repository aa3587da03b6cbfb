"""What customers may do to their own orders themselves, as the policy file allows.

Every action: checks ownership (someone else's order is "not found") and the policy (a
refusal carries a reason code the UI words), changes the order, records an OrderEvent on it,
writes an audit event, enqueues a signed outbound event for the business's systems, emits a
domain event for open browsers, and tells the customer where that helps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, notifications, order_billing, outbox
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.notifications import Text
from portal.domain.order_policy import OrderPolicy, current_policy
from portal.domain.orders import (
    _variant_choices,
    own_order,
    state_reason,
    variant_label,
    window_carrier,
)
from portal.domain.principal import Principal, require_customer
from portal.i18n import tr
from portal.models import (
    Address,
    AddressCreate,
    AddressPublic,
    NotificationKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Product,
    ProductVariant,
    Shipment,
    address_snapshot,
)

CANCEL_REASONS = ("no_longer_needed", "ordered_by_mistake", "found_better_price", "delivery_too_slow", "other")


class NotAllowed(DomainError):
    """The policy does not allow this now; `reason` says why (the UI words it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(ErrorCode.NOT_ALLOWED, "", reason=reason)
        self.reason = reason


def record(session: Session, *, principal: Principal, order: Order, kind: str, message: str, audit_action: str,
           outbox_kind: str, payload: dict[str, Any], notify: tuple[Text, Text] | None = None,
           notify_kind: str = NotificationKind.SHIPPING) -> None:
    """The trail every self-service action leaves, in the caller's transaction. The order's history
    `message` is kept in the words of the customer acting (served now); the notification is worded
    for each recipient in their own language (pass functions that word it with `tr`)."""
    now = utcnow()
    order.updated_at = now
    session.add(order)
    session.add(OrderEvent(order_id=order.id or 0, kind=kind, message=message[:500], actor_kind=principal.via
                           if principal.via != "user" else "customer", actor_user_id=principal.user_id,
                           data=payload, created_at=now))
    audit.record(session, action=audit_action, principal=principal, customer_id=order.customer_id,
                 target_type="order", target_id=order.id or "", **payload)
    outbox.enqueue(session, kind=outbox_kind, customer_id=order.customer_id,
                   payload={"order_id": order.id, "order_number": order.number,
                            "order_external_id": order.external_id, **payload})
    events.emit(session, DomainEvent(topic=Topic.ORDERS, customer_id=order.customer_id,
                                     data={"order_id": order.id}))
    if notify is not None:
        notifications.notify_customer(session, customer_id=order.customer_id, kind=notify_kind, title=notify[0],
                                      body=notify[1], link=f"/orders/{order.id}")


def _check(order: Order, action: str, policy: OrderPolicy) -> None:
    if not policy.allows(action, order.status):
        raise NotAllowed(state_reason(action, order.status))


def _restock(session: Session, variant_id: int | None, quantity: int) -> None:
    if variant_id:
        session.exec(update(ProductVariant).where(col(ProductVariant.id) == variant_id)  # type: ignore[call-overload]
                     .values(stock=ProductVariant.stock + quantity))


def _take_stock(session: Session, variant_id: int, quantity: int) -> bool:
    """Atomically take stock; False when there is not enough (another order may have taken it)."""
    result = session.exec(update(ProductVariant)  # type: ignore[call-overload]
                          .where(col(ProductVariant.id) == variant_id, col(ProductVariant.stock) >= quantity)
                          .values(stock=ProductVariant.stock - quantity))
    return bool(result.rowcount)


def _lines(session: Session, order: Order) -> list[OrderLine]:
    return list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))))


# -- cancel ------------------------------------------------------------------------------------


def cancel_order(session: Session, *, principal: Principal, order_id: Any, reason: str) -> Order:
    customer_id = require_customer(principal)
    if reason not in CANCEL_REASONS:
        raise Invalid("choose a reason", field="reason")
    order = own_order(session, customer_id=customer_id, order_id=order_id, for_update=True)
    _check(order, "cancel", current_policy())
    was_paid = order.status != OrderStatus.PLACED
    for line in _lines(session, order):
        _restock(session, line.variant_id, line.quantity)
    order.status = OrderStatus.CANCELLED
    # The money side settles in the same transaction: no invoice stays due for an order that is not coming.
    settled = order_billing.settle_cancelled_order(session, order=order, reason=reason)
    refund_due = settled.credited_cents > 0 or (was_paid and not settled.voided)
    def body() -> str:
        return settled.sentence or (tr("Your payment will be refunded to the original payment method.")
                                    if refund_due else tr("Nothing was charged."))

    record(session, principal=principal, order=order, kind="cancelled",
           message=tr("Cancelled by you. {details}", details=body()),
           audit_action="order.cancel", outbox_kind="order.cancel_requested",
           payload={"reason": reason, "refund_due": refund_due, "refund_cents": settled.credited_cents,
                    "voided_invoices": settled.voided, "credit_notes": settled.credit_notes},
           notify=(lambda: tr("Order {number} is cancelled", number=order.number), body),
           notify_kind=NotificationKind.BILLING
           if settled.voided or settled.credit_notes else NotificationKind.SHIPPING)
    return order


# -- shipping address --------------------------------------------------------------------------


def _validated_address(fields: dict[str, Any]) -> dict[str, Any]:
    clean = {k: (str(v).strip() if v is not None else "") for k, v in fields.items()
             if k in AddressCreate.model_fields}
    clean["country"] = clean.get("country", "").upper()
    missing = [f for f in ("name", "line1", "city", "postal_code", "country") if not clean.get(f)]
    if missing:
        raise Invalid("required", field=missing[0])
    if len(clean["country"]) != 2 or not clean["country"].isalpha():
        raise Invalid("country", field="country")
    try:
        return address_snapshot(AddressCreate.model_validate(clean))
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0]) if err.errors() else ""
        raise Invalid("address", field=field) from err


def change_shipping_address(session: Session, *, principal: Principal, order_id: Any, address_id: Any = None,
                            new_address: dict[str, Any] | None = None) -> Order:
    """Ship to one of the customer's saved addresses, or to a new one (validated)."""
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id, for_update=True)
    _check(order, "change_address", current_policy())
    if address_id is not None:
        if not isinstance(address_id, int) or isinstance(address_id, bool):
            raise NotFound("address")
        saved = session.get(Address, address_id)
        if saved is None or saved.customer_id != customer_id:
            raise NotFound("address")
        snapshot = address_snapshot(saved)
    elif new_address is not None:
        snapshot = _validated_address(new_address)
    else:
        raise Invalid("choose an address", field="address")
    if snapshot == order.shipping_address:
        raise Invalid("same address", field="address")
    order.shipping_address = snapshot
    where = ", ".join(p for p in (snapshot["line1"], snapshot["postal_code"], snapshot["city"],
                                  snapshot["country"]) if p)
    record(session, principal=principal, order=order, kind="address_changed",
           message=tr("Delivery address changed to {address}", address=where), audit_action="order.address_change",
           outbox_kind="order.address_change_requested", payload={"shipping_address": snapshot},
           notify=(lambda: tr("New delivery address for order {number}", number=order.number),
                   lambda: tr("We will deliver to {address}.", address=where)))
    return order


# -- variant -----------------------------------------------------------------------------------


def change_line_variant(session: Session, *, principal: Principal, order_id: Any, line_id: Any,
                        variant_id: Any) -> OrderLine:
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id, for_update=True)
    _check(order, "change_variant", current_policy())
    if not isinstance(line_id, int) or isinstance(line_id, bool):
        raise NotFound("line")
    line = session.get(OrderLine, line_id)
    if line is None or line.order_id != order.id:
        raise NotFound("line")
    choices = {c.id: c for c in _variant_choices(session, [line]).get(line.id or 0, [])}
    if not isinstance(variant_id, int) or variant_id not in choices:
        # Another product's variant, someone's forged id, a different price, or no stock.
        raise NotAllowed("variant_unavailable")
    new = session.get(ProductVariant, variant_id)
    assert new is not None and new.id is not None
    if not _take_stock(session, new.id, line.quantity):
        raise NotAllowed("variant_unavailable")
    _restock(session, line.variant_id, line.quantity)
    old_label = line.variant_label
    line.variant_id, line.sku, line.variant_label = new.id, new.sku, variant_label(new.attributes)
    session.add(line)
    record(session, principal=principal, order=order, kind="variant_changed",
           message=tr("{item}: changed from {old} to {new}", item=line.name, old=old_label or tr("the original"),
                      new=line.variant_label),
           audit_action="order.variant_change", outbox_kind="order.variant_change_requested",
           payload={"line_id": line.id, "sku": new.sku, "variant_label": line.variant_label,
                    "previous_variant_label": old_label})
    return line


# -- delivery window ---------------------------------------------------------------------------


def set_delivery_window(session: Session, *, principal: Principal, order_id: Any, window_key: Any) -> Order:
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id, for_update=True)
    policy = current_policy()
    _check(order, "delivery_window", policy)
    shipments = list(session.exec(select(Shipment).where(Shipment.order_id == order.id)))
    carrier = window_carrier(order, shipments, policy)
    offers = {o.key: o for o in policy.window_offers(carrier, utcnow())}
    if not offers:
        raise NotAllowed("carrier_has_no_windows")
    offer = offers.get(window_key) if isinstance(window_key, str) else None
    if offer is None:
        raise Invalid("choose one of the offered windows", field="window")
    changed = order.delivery_window_start is not None
    order.delivery_window_start, order.delivery_window_end = offer.start, offer.end
    record(session, principal=principal, order=order, kind="delivery_window_set",
           message=(tr("Delivery window changed: {window}", window=offer.label) if changed
                    else tr("Delivery window chosen: {window}", window=offer.label)),
           audit_action="order.delivery_window", outbox_kind="order.delivery_window_requested",
           payload={"carrier": carrier, "window_start": offer.start.isoformat(),
                    "window_end": offer.end.isoformat(), "window_key": offer.key})
    return order


# -- new orders and reorders -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DraftLine:
    variant_id: int
    quantity: int


@dataclasses.dataclass(frozen=True, slots=True)
class ReviewLine:
    variant_id: int
    sku: str
    name: str
    variant_label: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    stock: int


@dataclasses.dataclass(frozen=True, slots=True)
class OrderReview:
    lines: list[ReviewLine]
    unavailable: list[str]  # items of a reorder that cannot be ordered now
    address: dict[str, Any]
    address_id: int | None
    currency: str
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int


@dataclasses.dataclass(frozen=True, slots=True)
class CatalogueItem:
    variant_id: int
    name: str
    variant_label: str
    price_cents: int
    currency: str
    stock: int
    max_quantity: int  # what one line may hold: the policy's limit, or less when stock is short
    category: str = ""


def catalogue(session: Session, *, principal: Principal) -> list[CatalogueItem]:
    """What can be ordered now: active variants of active products, in stock."""
    require_customer(principal)
    rows = session.exec(
        select(ProductVariant, Product).join(Product, col(Product.id) == ProductVariant.product_id)
        .where(Product.active == True, ProductVariant.active == True, col(ProductVariant.stock) > 0)  # noqa: E712
        .order_by(col(Product.name), col(ProductVariant.id))
    ).all()
    limit = current_policy().max_line_quantity
    return [CatalogueItem(variant_id=v.id or 0, name=p.name, variant_label=variant_label(v.attributes),
                          price_cents=v.price_cents, currency=v.currency, stock=v.stock,
                          max_quantity=min(limit, v.stock), category=p.category) for v, p in rows]


def line_quantity_limit() -> int:
    """How many of one item a single order may hold (the policy file's max_line_quantity)."""
    return current_policy().max_line_quantity


@dataclasses.dataclass(frozen=True, slots=True)
class Reorder:
    number: str  # of the past order
    lines: list[DraftLine]
    unavailable: list[str]


def saved_addresses(session: Session, *, principal: Principal) -> list[AddressPublic]:
    customer_id = require_customer(principal)
    rows = session.exec(select(Address).where(Address.customer_id == customer_id)
                        .order_by(col(Address.is_default_shipping).desc(), col(Address.id))).all()
    return [AddressPublic.model_validate(a, from_attributes=True) for a in rows]


def reorder_draft(session: Session, *, principal: Principal, order_id: Any) -> Reorder:
    """The lines of a past order that can be ordered again now, and the names of those that cannot."""
    customer_id = require_customer(principal)
    order = own_order(session, customer_id=customer_id, order_id=order_id)
    _check(order, "reorder", current_policy())
    lines = _lines(session, order)
    ids = [ln.variant_id for ln in lines if ln.variant_id]
    variants = {v.id: v for v in session.exec(select(ProductVariant).where(col(ProductVariant.id).in_(ids)))} \
        if ids else {}
    draft: list[DraftLine] = []
    missing: list[str] = []
    for ln in lines:
        v = variants.get(ln.variant_id) if ln.variant_id else None
        if v is None or not v.active or v.stock < 1:
            missing.append(f"{ln.name} ({ln.variant_label})" if ln.variant_label else ln.name)
        else:
            draft.append(DraftLine(variant_id=v.id or 0, quantity=min(ln.quantity, v.stock)))
    return Reorder(number=order.number, lines=draft, unavailable=missing)


def review_order(session: Session, *, principal: Principal, lines: list[DraftLine], address_id: Any,
                 unavailable: list[str] | None = None) -> OrderReview:
    """Prices as they are now, the address, and the totals, before anything is submitted."""
    customer_id = require_customer(principal)
    policy = current_policy()
    if not lines:
        raise Invalid("empty", field="lines")
    if len(lines) > 50:
        raise Invalid("too many lines", field="lines")
    merged: dict[int, int] = {}
    for dl in lines:
        if not isinstance(dl.variant_id, int) or not isinstance(dl.quantity, int) or dl.quantity < 1:
            raise Invalid("quantity", field="quantity")
        merged[dl.variant_id] = merged.get(dl.variant_id, 0) + dl.quantity
    rows = {v.id: (v, p) for v, p in session.exec(
        select(ProductVariant, Product).join(Product, col(Product.id) == ProductVariant.product_id)
        .where(col(ProductVariant.id).in_(list(merged)))
    ).all()}
    out: list[ReviewLine] = []
    for vid, qty in merged.items():
        found = rows.get(vid)
        if found is None or not found[0].active or not found[1].active:
            raise NotFound("variant")
        v, p = found
        if qty > policy.max_line_quantity:
            raise Invalid("quantity", field="quantity", max=policy.max_line_quantity)
        if qty > v.stock:
            raise NotAllowed("out_of_stock")
        out.append(ReviewLine(variant_id=vid, sku=v.sku, name=p.name, variant_label=variant_label(v.attributes),
                              quantity=qty, unit_price_cents=v.price_cents, total_cents=qty * v.price_cents,
                              stock=v.stock))
    if not isinstance(address_id, int) or isinstance(address_id, bool):
        raise Invalid("choose an address", field="address")
    address = session.get(Address, address_id)
    if address is None or address.customer_id != customer_id:
        raise NotFound("address")
    subtotal = sum(ln.total_cents for ln in out)
    shipping = policy.shipping_for(subtotal)
    currency = rows[out[0].variant_id][0].currency
    return OrderReview(lines=out, unavailable=list(unavailable or []), address=address_snapshot(address),
                       address_id=address.id, currency=currency, subtotal_cents=subtotal, shipping_cents=shipping,
                       tax_cents=policy.vat_included(subtotal + shipping), total_cents=subtotal + shipping)


def place_order(session: Session, *, principal: Principal, lines: list[DraftLine], address_id: Any,
                expected_total_cents: int, reordered_from: Any = None) -> Order:
    """Submit a reviewed order. If prices changed since the review, nothing is placed."""
    customer_id = require_customer(principal)
    review = review_order(session, principal=principal, lines=lines, address_id=address_id)
    if review.total_cents != expected_total_cents:
        raise NotAllowed("prices_changed")
    source: Order | None = None
    if reordered_from is not None:
        source = own_order(session, customer_id=customer_id, order_id=reordered_from)
    for ln in review.lines:
        if not _take_stock(session, ln.variant_id, ln.quantity):
            raise NotAllowed("out_of_stock")
    billing = session.exec(select(Address).where(Address.customer_id == customer_id,
                                                 Address.is_default_billing == True)).first()  # noqa: E712
    now = utcnow()
    order = Order(number=order_billing.new_order_number(session), customer_id=customer_id, status=OrderStatus.PLACED,
                  currency=review.currency, subtotal_cents=review.subtotal_cents,
                  shipping_cents=review.shipping_cents, tax_cents=review.tax_cents, total_cents=review.total_cents,
                  shipping_address=review.address,
                  billing_address=address_snapshot(billing) if billing else dict(review.address),
                  placed_at=now, updated_at=now)
    session.add(order)
    session.flush()
    placed = [OrderLine(order_id=order.id or 0, variant_id=ln.variant_id, sku=ln.sku, name=ln.name,
                        variant_label=ln.variant_label, quantity=ln.quantity, unit_price_cents=ln.unit_price_cents,
                        total_cents=ln.total_cents) for ln in review.lines]
    session.add_all(placed)
    invoice = order_billing.invoice_order(session, order=order, lines=placed, policy=current_policy())
    order_billing.confirmation_mail(session, order=order, lines=placed, invoice=invoice)
    message = (tr("Order placed in the portal (reorder of {number})", number=source.number) if source
               else tr("Order placed in the portal"))
    record(session, principal=principal, order=order, kind="placed", message=message, audit_action="order.place",
           outbox_kind="order.placed",
           payload={"total_cents": order.total_cents, "currency": order.currency,
                    "reordered_from": source.number if source else None,
                    "lines": [{"sku": ln.sku, "quantity": ln.quantity, "unit_price_cents": ln.unit_price_cents}
                              for ln in review.lines]},
           notify=(lambda: tr("Order {number} received", number=order.number),
                   lambda: tr("Invoice {number} is due; we ship when your payment arrives.", number=invoice.number)),
           notify_kind=NotificationKind.BILLING)
    return order
