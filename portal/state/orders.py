"""Order history: search, filters by state and date, pages. Every argument is validated here
and again in the domain, which only ever reads the signed-in customer's orders."""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from portal.domain import orders
from portal.domain.errors import DomainError
from portal.domain.events import Topic
from portal.format import day, humanize, money
from portal.i18n import tr, tr_n
from portal.live.push import listens
from portal.models import ORDER_STATUS_LABELS, OrderStatus
from portal.settings import get_settings
from portal.state.base import PortalState, loop_first
from portal.state.guard import Access, access
from portal.state.order_messages import FIELDS, order_message

STATUS_CHOICES = ["all", *[s.value for s in OrderStatus]]
MAX_QUERY = 100


@dataclasses.dataclass
class OrderListRow:
    id: int
    number: str
    status: str
    status_label: str
    placed: str
    total: str
    summary: str
    href: str


def _parse_day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


@access(Access.CUSTOMER)
@listens(Topic.ORDERS, Topic.SHIPMENTS)
class OrderListState(PortalState, rx.State):
    loaded: bool = False
    query: str = ""
    status: str = "all"
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    pages: int = 1
    total: int = 0
    rows: list[OrderListRow] = []
    # "", "no_orders" (none at all yet) or "no_match" (filters hide them all)
    empty: str = ""
    error: str = ""

    @rx.event
    @loop_first
    def load(self) -> None:
        self._reload()

    @rx.event
    def update_query(self, value: str) -> None:
        if not isinstance(value, str):
            return
        self.query = value[:MAX_QUERY]
        self.page = 1
        self._reload()

    @rx.event
    def update_status(self, value: str) -> None:
        if value not in STATUS_CHOICES:
            self.error = tr(FIELDS["status"])
            return
        self.status = value
        self.page = 1
        self._reload()

    @rx.event
    def update_date_from(self, value: str) -> None:
        self._set_date("date_from", value)

    @rx.event
    def update_date_to(self, value: str) -> None:
        self._set_date("date_to", value)

    def _set_date(self, field: str, value: str) -> None:
        if not isinstance(value, str) or len(value) > 10:
            return
        # What was typed stays in the field even when it is not a date yet.
        setattr(self, field, value)
        try:
            _parse_day(value)
        except ValueError:
            self.error = tr("Enter dates as YYYY-MM-DD.")
            return
        self.page = 1
        self._reload()

    @rx.event
    def clear_filters(self) -> None:
        self.query, self.status, self.date_from, self.date_to, self.page = "", "all", "", "", 1
        self._reload()

    @rx.event
    def next_page(self) -> None:
        if self.page < self.pages:
            self.page += 1
            self._reload()

    @rx.event
    def prev_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            self._reload()

    def _reload(self) -> None:
        try:
            filters = orders.OrderFilter(query=self.query.strip(), status="" if self.status == "all" else self.status,
                                         date_from=_parse_day(self.date_from), date_to=_parse_day(self.date_to))
        except ValueError:
            self.error = tr("Enter dates as YYYY-MM-DD.")
            return
        try:
            size = get_settings().orders_page_size
            page = self._view("orders.list", (filters, self.page, size), (Topic.ORDERS, Topic.SHIPMENTS),
                              orders.list_orders, filters=filters, page=self.page, page_size=size)
        except DomainError as err:
            self.error = order_message(err)
            return
        rows = [
            OrderListRow(
                id=o.id, number=o.number, status=o.status,
                status_label=tr(ORDER_STATUS_LABELS.get(o.status, humanize(o.status))), placed=day(o.placed_at),
                total=money(o.total_cents, o.currency),
                summary=tr_n("{item} and {n} more", "{item} and {n} more", o.item_count - 1, item=o.first_item)
                if o.item_count > 1 else o.first_item,
                href=f"/orders/{o.id}",
            )
            for o in page.orders
        ]
        # Only what changed goes to the browser: a visit to an unchanged list sends nothing.
        self._set(error="", page=page.page, pages=page.pages, total=page.total, rows=rows,
                  empty="" if page.orders else ("no_match" if page.has_any_orders else "no_orders"), loaded=True)
