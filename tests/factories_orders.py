"""Factories for orders self-service tests: a small catalogue, orders with real variants,
saved addresses and shipments."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlmodel import Session

from portal.db import utcnow
from portal.models import (
    Address,
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Product,
    ProductVariant,
    Shipment,
    TrackingTag,
    address_snapshot,
)

_seq = itertools.count(1)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def make_product(db: Session, *, name: str = "Trail jacket", price_cents: int = 12900,
                 sizes: tuple[str, ...] = ("S", "M", "L"), stock: int = 5) -> list[ProductVariant]:
    n = next(_seq)
    product = Product(sku=f"P-{n}", name=name, category="Jackets")
    db.add(product)
    db.flush()
    variants = [ProductVariant(product_id=product.id or 0, sku=f"P-{n}-{size}", attributes={"size": size},
                               price_cents=price_cents, stock=stock) for size in sizes]
    for v in variants:
        db.add(v)
    db.commit()
    return variants


def _product_name(db: Session, variant: ProductVariant) -> str:
    product = db.get(Product, variant.product_id)
    return product.name if product else "Item"


def make_address(db: Session, customer: Customer, *, city: str = "Utrecht", country: str = "NL",
                 default: bool = True) -> Address:
    address = Address(customer_id=customer.id or 0, label="Home", name=customer.name, line1="Oudegracht 1",
                      city=city, postal_code="3511 AA", country=country, is_default_shipping=default,
                      is_default_billing=default)
    db.add(address)
    db.commit()
    return address


def make_variant_order(db: Session, customer: Customer, variants: list[tuple[ProductVariant, int]], *,
                       status: OrderStatus = OrderStatus.PAID, days_ago: float = 1,
                       delivered_days_ago: float | None = None, carrier: str | None = None,
                       address: Address | None = None, number: str = "") -> Order:
    n = next(_seq)
    placed = utcnow() - timedelta(days=days_ago)
    lines = [(v, q) for v, q in variants]
    subtotal = sum(v.price_cents * q for v, q in lines)
    snapshot = address_snapshot(address) if address else {
        "label": "", "name": customer.name, "company": "", "line1": "Main St 1", "line2": "", "city": "Berlin",
        "region": "", "postal_code": "10115", "country": "DE", "phone": ""}
    order = Order(number=number or f"FH-V{n:05d}", customer_id=customer.id or 0, status=status,
                  subtotal_cents=subtotal, total_cents=subtotal, shipping_address=snapshot,
                  billing_address=dict(snapshot), placed_at=placed, updated_at=placed)
    db.add(order)
    db.flush()
    for v, q in lines:
        db.add(OrderLine(order_id=order.id or 0, variant_id=v.id, sku=v.sku, name=_product_name(db, v),
                         variant_label=" / ".join(str(x) for x in v.attributes.values()), quantity=q,
                         unit_price_cents=v.price_cents, total_cents=q * v.price_cents))
    db.add(OrderEvent(order_id=order.id or 0, kind="placed", message="Order placed", created_at=placed))
    if carrier or delivered_days_ago is not None:
        delivered = utcnow() - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
        db.add(Shipment(order_id=order.id or 0, customer_id=customer.id or 0, carrier=carrier or "dhl",
                        carrier_name=(carrier or "dhl").upper(), tracking_number=f"TRK{n:08d}",
                        tag=TrackingTag.DELIVERED if delivered else TrackingTag.IN_TRANSIT, delivered_at=delivered))
    db.commit()
    return order


