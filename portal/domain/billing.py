"""Balance and invoices for customers, scoped to their own customer id."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain.principal import Principal, require_customer
from portal.models import CreditEntry, Customer, Invoice, InvoiceKind, InvoiceStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    due_cents: int
    overdue_cents: int
    open_invoices: int
    overdue_invoices: int
    store_credit_cents: int
    next_due_at: str | None


def balance(session: Session, *, principal: Principal) -> Balance:
    customer_id = require_customer(principal)
    now = utcnow()
    customer = session.get(Customer, customer_id)
    currency = customer.currency if customer else "EUR"
    open_rows = session.exec(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN,
                              Invoice.kind == InvoiceKind.INVOICE)
    ).all()
    due = sum(i.total_cents - i.amount_paid_cents for i in open_rows)
    overdue = [i for i in open_rows if i.due_at is not None and i.due_at < now]
    upcoming = sorted(i.due_at for i in open_rows if i.due_at is not None and i.due_at >= now)
    credit = session.exec(select(func.coalesce(func.sum(CreditEntry.amount_cents), 0))
                          .where(CreditEntry.customer_id == customer_id)).one()
    return Balance(
        currency=currency,
        due_cents=due,
        overdue_cents=sum(i.total_cents - i.amount_paid_cents for i in overdue),
        open_invoices=len(open_rows),
        overdue_invoices=len(overdue),
        store_credit_cents=int(credit or 0),
        next_due_at=upcoming[0].date().isoformat() if upcoming else None,
    )

