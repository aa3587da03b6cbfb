"""One order, as its owner sees it. The id comes from the URL, so it is never trusted."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.db import session_scope
from portal.domain import orders
from portal.domain.errors import DomainError
from portal.domain.principal import require_principal
from portal.models import ORDER_STATUS_LABELS
from portal.state.format import day, humanize, money
from portal.state.guard import Access, access, current_principal
from portal.state.messages import message_for_error


@dataclasses.dataclass
class LineRow:
    name: str
    variant: str
    quantity: int
    unit_price: str
    total: str


@dataclasses.dataclass
class OrderHeader:
    number: str = ""
    status: str = ""
    status_label: str = ""
    placed: str = ""
    subtotal: str = ""
    shipping: str = ""
    tax: str = ""
    total: str = ""


@access(Access.CUSTOMER)
class OrderDetailState(rx.State):
    error: str = ""
    order: OrderHeader = OrderHeader()
    lines: list[LineRow] = []

    @rx.event
    def load(self) -> None:
        self.reset()
        principal = require_principal(current_principal())
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            order_id = int(raw)
        except ValueError:
            self.error = "That is not an order number we know."
            return
        try:
            with session_scope() as db:
                head, lines = orders.get_order(db, principal=principal, order_id=order_id)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        c = head.currency
        self.order = OrderHeader(
            number=head.number, status=head.status,
            status_label=ORDER_STATUS_LABELS.get(head.status, humanize(head.status)), placed=day(head.placed_at),
            subtotal=money(head.subtotal_cents, c), shipping=money(head.shipping_cents, c),
            tax=money(head.tax_cents, c), total=money(head.total_cents, c),
        )
        self.lines = [LineRow(name=ln.name, variant=ln.variant_label, quantity=ln.quantity,
                              unit_price=money(ln.unit_price_cents, c), total=money(ln.total_cents, c))
                      for ln in lines]
