"""Customer A's ids give customer B nothing, through every domain function."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portal.domain import billing, orders, support
from portal.domain.errors import DomainError, ErrorCode, NotFound
from portal.models import InvoiceStatus, OrderStatus, Role, TicketStatus
from tests.factories import make_customer, make_invoice, make_order, make_staff, make_ticket, principal_for


@pytest.fixture
def two_customers(db: Session):  # type: ignore[no-untyped-def]
    ua, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_orders = [make_order(db, ca, status=s) for s in (OrderStatus.PAID, OrderStatus.SHIPPED)]
    b_order = make_order(db, cb, status=OrderStatus.DELIVERED)
    make_ticket(db, ca, subject="Alice's question")
    make_ticket(db, cb, subject="Bob's question")
    make_invoice(db, ca, total_cents=12345)
    make_invoice(db, cb, total_cents=999, due_in_days=-3)
    return principal_for(ua), principal_for(ub), a_orders, b_order


def test_order_lists_hold_only_the_callers_orders(db: Session, two_customers) -> None:  # type: ignore[no-untyped-def]
    pa, pb, a_orders, b_order = two_customers
    assert {o.id for o in orders.recent_orders(db, principal=pa)} == {o.id for o in a_orders}
    assert [o.id for o in orders.recent_orders(db, principal=pb)] == [b_order.id]


def test_someone_elses_order_is_not_found(db: Session, two_customers) -> None:  # type: ignore[no-untyped-def]
    pa, pb, a_orders, _ = two_customers
    for order in a_orders:
        with pytest.raises(NotFound):
            orders.get_order(db, principal=pb, order_id=order.id)
    # ... exactly as a missing one: existence is not revealed
    with pytest.raises(NotFound):
        orders.get_order(db, principal=pb, order_id=10_000_000)
    head, lines = orders.get_order(db, principal=pa, order_id=a_orders[0].id)
    assert head.number == a_orders[0].number and lines


def test_tickets_and_balance_are_scoped(db: Session, two_customers) -> None:  # type: ignore[no-untyped-def]
    pa, pb, _, _ = two_customers
    assert [t.subject for t in support.open_tickets(db, principal=pa)] == ["Alice's question"]
    assert [t.subject for t in support.open_tickets(db, principal=pb)] == ["Bob's question"]
    a, b = billing.balance(db, principal=pa), billing.balance(db, principal=pb)
    assert (a.due_cents, a.overdue_cents) == (12345, 0)
    assert (b.due_cents, b.overdue_cents, b.overdue_invoices) == (999, 999, 1)


def test_resolved_tickets_and_paid_invoices_are_not_open(db: Session) -> None:
    u, c = make_customer(db)
    make_ticket(db, c, status=TicketStatus.RESOLVED)
    make_invoice(db, c, status=InvoiceStatus.PAID)
    p = principal_for(u)
    assert support.open_tickets(db, principal=p) == []
    assert billing.balance(db, principal=p).due_cents == 0


def test_staff_cannot_use_customer_functions_and_customers_cannot_use_staff_ones(db: Session) -> None:
    agent = principal_for(make_staff(db, role=Role.AGENT))
    u, c = make_customer(db)
    make_ticket(db, c, priority="urgent")
    for call in (lambda: orders.recent_orders(db, principal=agent),
                 lambda: support.open_tickets(db, principal=agent),
                 lambda: billing.balance(db, principal=agent)):
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError):
        support.queue_summary(db, principal=principal_for(u))
    assert support.queue_summary(db, principal=agent)["urgent"] == 1


def test_no_principal_means_no_data(db: Session) -> None:
    with pytest.raises(DomainError) as exc:
        orders.recent_orders(db, principal=None)  # type: ignore[arg-type]
    assert exc.value.code == ErrorCode.UNAUTHENTICATED
