"""Factories: the smallest believable rows for a test, committed, with overridable fields."""

from __future__ import annotations

import functools
import itertools
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from portal.db import utcnow
from portal.domain.auth import hash_password
from portal.domain.principal import Principal
from portal.models import (
    Customer,
    Invoice,
    InvoiceStatus,
    Order,
    OrderLine,
    OrderStatus,
    Role,
    Ticket,
    TicketStatus,
    User,
)

PASSWORD = "a long test passphrase"
_seq = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is deliberately slow: hash once per run


def make_customer(db: Session, *, name: str = "", email: str = "", **fields: Any) -> tuple[User, Customer]:
    n = next(_seq)
    email = email or f"customer{n}@example.com"
    customer = Customer(name=name or f"Customer {n}", email=email, number=f"C-T{n:05d}", **fields)
    db.add(customer)
    db.flush()
    user = User(email=email, full_name=customer.name, role=Role.CUSTOMER, customer_id=customer.id,
                password_hash=_password_hash(), email_verified_at=utcnow())
    db.add(user)
    db.commit()
    return user, customer


def make_staff(db: Session, *, role: Role = Role.AGENT, email: str = "") -> User:
    n = next(_seq)
    user = User(email=email or f"staff{n}@example.com", full_name=f"Staff {n}", role=role,
                password_hash=_password_hash())
    db.add(user)
    db.commit()
    return user


def principal_for(user: User, session_id: int | None = None) -> Principal:
    assert user.id is not None
    return Principal(user_id=user.id, role=user.role, email=user.email, name=user.full_name,
                     customer_id=user.customer_id, session_id=session_id)


def make_order(db: Session, customer: Customer, *, status: OrderStatus = OrderStatus.PAID, days_ago: int = 1,
               lines: tuple[tuple[str, int, int], ...] = (("Trail jacket", 1, 12900),), **fields: Any) -> Order:
    n = next(_seq)
    subtotal = sum(q * p for _, q, p in lines)
    order = Order(number=f"FH-T{n:05d}", customer_id=customer.id or 0, status=status,
                  subtotal_cents=subtotal, total_cents=subtotal, tax_cents=round(subtotal * 20 / 120),
                  placed_at=utcnow() - timedelta(days=days_ago), **fields)
    db.add(order)
    db.flush()
    for name, qty, price in lines:
        db.add(OrderLine(order_id=order.id or 0, sku=f"SKU-{n}", name=name, quantity=qty,
                         unit_price_cents=price, total_cents=qty * price))
    db.commit()
    return order


def make_ticket(db: Session, customer: Customer, *, status: TicketStatus = TicketStatus.OPEN,
                subject: str = "Where is my parcel?", **fields: Any) -> Ticket:
    n = next(_seq)
    ticket = Ticket(number=f"T-T{n:05d}", customer_id=customer.id or 0, subject=subject, status=status, **fields)
    db.add(ticket)
    db.commit()
    return ticket


def make_invoice(db: Session, customer: Customer, *, total_cents: int = 5000, due_in_days: int = 14,
                 status: InvoiceStatus = InvoiceStatus.OPEN, **fields: Any) -> Invoice:
    n = next(_seq)
    now = utcnow()
    inv = Invoice(number=f"INV-T{n:05d}", customer_id=customer.id or 0, total_cents=total_cents,
                  subtotal_cents=total_cents, issued_at=now - timedelta(days=1),
                  due_at=now + timedelta(days=due_in_days), status=status, **fields)
    db.add(inv)
    db.commit()
    return inv
