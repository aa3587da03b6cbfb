"""Queries per order-history page, for a customer with 10 orders and one with 10,000.

The number of SQL statements a page takes must not grow with the number of orders (no N+1):
statements are counted with a SQLAlchemy `before_cursor_execute` listener, side by side in one
run, on a throwaway SQLite database.

    .venv/bin/python bench/orders_list_queries.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="portal-bench-"))
os.environ["PORTAL_DATA_DIR"] = str(_TMP)
os.environ.pop("DATABASE_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, insert  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from portal.db import make_engine, utcnow  # noqa: E402
from portal.domain import orders  # noqa: E402
from portal.domain.principal import Principal  # noqa: E402
from portal.models import Customer, Order, OrderLine, Role, User  # noqa: E402

PRODUCTS = ("Ridgeline Waterproof Jacket", "Packhorse 35L Rucksack", "Hillwool Hiking Socks", "Bothy 2 Tent")
STATUSES = ("placed", "paid", "packed", "shipped", "delivered", "cancelled")


def make_customer(db: Session, key: str, n_orders: int) -> Principal:
    customer = Customer(name=f"Bench {key}", email=f"{key}@bench.example", number=f"C-B{key}")
    db.add(customer)
    db.flush()
    user = User(email=customer.email, full_name=customer.name, role=Role.CUSTOMER, customer_id=customer.id)
    db.add(user)
    db.flush()
    now = utcnow()
    rows = [{"number": f"FH-{key}-{i:06d}", "customer_id": customer.id, "status": STATUSES[i % len(STATUSES)],
             "total_cents": 1000 + i, "subtotal_cents": 1000 + i, "placed_at": now - timedelta(hours=i),
             "updated_at": now - timedelta(hours=i), "shipping_address": {}, "billing_address": {}}
            for i in range(n_orders)]
    db.execute(insert(Order), rows)
    ids = [oid for (oid,) in db.execute(Order.__table__.select().with_only_columns(Order.__table__.c.id)
                                        .where(Order.__table__.c.customer_id == customer.id))]
    lines = []
    for i, oid in enumerate(ids):
        for j in range(1 + i % 3):
            name = PRODUCTS[(i + j) % len(PRODUCTS)]
            lines.append({"order_id": oid, "sku": f"SKU-{j}", "name": name, "variant_label": "M", "quantity": 1,
                          "unit_price_cents": 1000, "total_cents": 1000, "returned_quantity": 0})
    db.execute(insert(OrderLine), lines)
    db.commit()
    assert user.id is not None
    return Principal(user_id=user.id, role=Role.CUSTOMER, email=user.email, name=user.full_name,
                     customer_id=customer.id)


def main() -> None:
    engine = make_engine(f"sqlite:///{_TMP / 'bench.db'}")
    SQLModel.metadata.create_all(engine)
    counter = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: object) -> None:
        counter["n"] += 1

    with Session(engine, expire_on_commit=False) as db:
        small = make_customer(db, "small", 10)
        large = make_customer(db, "large", 10_000)

    cases = [
        ("first page", orders.OrderFilter(), 1),
        ("last page", orders.OrderFilter(), 10_000),
        ("search by product", orders.OrderFilter(query="packhorse"), 1),
        ("search by number", orders.OrderFilter(query="000007"), 1),
        ("state filter", orders.OrderFilter(status="delivered"), 2),
        ("date range", orders.OrderFilter(date_from=(utcnow() - timedelta(days=30)).date(),
                                          date_to=utcnow().date()), 1),
        ("nothing matches", orders.OrderFilter(query="no such thing"), 1),
    ]
    print(f"{'page':<20} {'10 orders':>12} {'10,000 orders':>15} {'ratio':>7} {'ms (10k)':>9}")
    worst = 0.0
    for label, filters, page in cases:
        counts = []
        elapsed = 0.0
        for principal in (small, large):
            with Session(engine, expire_on_commit=False) as db:
                counter["n"] = 0
                started = time.perf_counter()
                result = orders.list_orders(db, principal=principal, filters=filters, page=page, page_size=20)
                elapsed = (time.perf_counter() - started) * 1000
                counts.append(counter["n"])
                assert len(result.orders) <= 20
        ratio = counts[1] / counts[0] if counts[0] else float("inf")
        worst = max(worst, ratio)
        print(f"{label:<20} {counts[0]:>12} {counts[1]:>15} {ratio:>7.2f} {elapsed:>9.1f}")
    print(f"\nqueries per page, 10,000 orders vs 10 orders: worst ratio {worst:.2f} "
          f"({'constant' if worst <= 1.0 else 'GROWS'})")


if __name__ == "__main__":
    main()
