"""The signed-in customer's home: recent orders, open tickets and balance."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.db import session_scope
from portal.domain import billing, orders, support
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.live.push import listens
from portal.models import ORDER_STATUS_LABELS
from portal.state.format import day, humanize, money
from portal.state.guard import Access, access, current_principal, principal_from_state


@dataclasses.dataclass
class OrderRow:
    id: int
    number: str
    status: str
    status_label: str
    placed: str
    total: str
    summary: str


@dataclasses.dataclass
class TicketRow:
    id: int
    number: str
    subject: str
    status: str
    priority: str
    updated: str


@dataclasses.dataclass
class BalanceView:
    due: str = ""
    overdue: str = ""
    has_overdue: bool = False
    open_invoices: int = 0
    store_credit: str = ""
    next_due: str = ""


@access(Access.CUSTOMER)
@listens(Topic.ORDERS, Topic.SHIPMENTS, Topic.TICKETS, Topic.BILLING)
class DashboardState(rx.State):
    loaded: bool = False
    orders: list[OrderRow] = []
    tickets: list[TicketRow] = []
    balance: BalanceView = BalanceView()

    @rx.event
    def load(self) -> None:
        self._load(require_principal(current_principal()))

    async def _on_live(self, _event: DomainEvent) -> None:
        # Out of band: the tab's own session cookie is checked again, as for any event.
        principal = principal_from_state(self)
        if principal is not None and principal.is_customer:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        with session_scope() as db:
            recent = orders.recent_orders(db, principal=principal, limit=5)
            tickets = support.open_tickets(db, principal=principal, limit=5)
            bal = billing.balance(db, principal=principal)
        self.orders = [
            OrderRow(
                id=o.id, number=o.number, status=o.status,
                status_label=ORDER_STATUS_LABELS.get(o.status, humanize(o.status)),
                placed=day(o.placed_at), total=money(o.total_cents, o.currency),
                summary=(o.first_item + (f" and {o.item_count - 1} more" if o.item_count > 1 else "")),
            )
            for o in recent
        ]
        self.tickets = [
            TicketRow(id=t.id, number=t.number, subject=t.subject, status=humanize(t.status),
                      priority=humanize(t.priority), updated=day(t.updated_at))
            for t in tickets
        ]
        self.balance = BalanceView(
            due=money(bal.due_cents, bal.currency), overdue=money(bal.overdue_cents, bal.currency),
            has_overdue=bal.overdue_cents > 0, open_invoices=bal.open_invoices,
            store_credit=money(bal.store_credit_cents, bal.currency), next_due=day(bal.next_due_at),
        )
        self.loaded = True
