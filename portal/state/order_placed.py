"""The confirmation after placing an order: what was ordered, its invoice, how to pay it."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.domain import order_billing
from portal.domain.errors import DomainError
from portal.domain.events import Topic
from portal.format import day, money
from portal.i18n import tr
from portal.live.push import listens
from portal.state import tab
from portal.state.base import FAILED, PortalState
from portal.state.billing import STATUS_LABELS
from portal.state.guard import Access, access
from portal.state.order_detail import _address_lines, _int
from portal.state.order_messages import order_message


@dataclasses.dataclass
class PlacedLine:
    name: str
    quantity: int
    total: str


@dataclasses.dataclass
class PlacedView:
    number: str = ""
    order_href: str = ""
    subtotal: str = ""
    shipping: str = ""
    tax: str = ""
    total: str = ""
    email: str = ""
    invoice_number: str = ""
    invoice_href: str = ""
    invoice_status: str = ""
    invoice_status_label: str = ""
    due: str = ""


@access(Access.CUSTOMER)
@listens(Topic.ORDERS, Topic.BILLING)
class OrderPlacedState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    view: PlacedView = PlacedView()
    lines: list[PlacedLine] = []
    address: list[str] = []
    # "Amount: €…", "IBAN: …", "Reference: INV-…": empty once nothing is left to pay.
    transfer: list[str] = []

    _order_id: int | None = None

    def _message(self, err: DomainError) -> str:
        return order_message(err)

    @rx.event
    def load(self) -> None:
        parts = tab.path(self).rstrip("/").split("/")
        self._order_id = _int(parts[-2]) if len(parts) >= 2 else None
        self._reload()

    def _reload(self) -> None:
        if self._order_id is None:
            self._set(error=tr("That is not an order number we know."), loaded=False)
            return
        c = self._call(order_billing.confirmation, order_id=self._order_id)
        if c is FAILED:
            self.loaded = False
            return
        o, cur = c.order, c.order.currency
        self._set(
            error="", loaded=True, address=_address_lines(c.shipping_address),
            lines=[PlacedLine(name=f"{ln.name} – {ln.variant_label}" if ln.variant_label else ln.name,
                              quantity=ln.quantity, total=money(ln.total_cents, cur)) for ln in c.lines],
            transfer=order_billing.transfer_lines(c.transfer) if c.transfer else [],
            view=PlacedView(
                number=o.number, order_href=f"/orders/{o.id}", subtotal=money(o.subtotal_cents, cur),
                shipping=money(o.shipping_cents, cur), tax=money(o.tax_cents, cur), total=money(o.total_cents, cur),
                email=c.email, invoice_number=c.invoice_number,
                invoice_href=f"/billing/invoices/{c.invoice_id}" if c.invoice_id else "",
                invoice_status=c.invoice_status, invoice_status_label=tr(STATUS_LABELS.get(c.invoice_status, "")),
                due=day(c.invoice_due_at) if c.invoice_due_at else ""),
        )
