"""A new order or a reorder of a past one: build it, review it (prices now, address, totals),
then submit. Nothing is placed until the customer confirms the review they saw."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import order_actions
from portal.domain.errors import DomainError
from portal.domain.order_actions import DraftLine
from portal.domain.principal import require_principal
from portal.format import money
from portal.state.guard import Access, access, current_principal
from portal.state.order_detail import Option, _address_lines, _int
from portal.state.order_messages import order_message

MAX_LINES = 30


@dataclasses.dataclass
class DraftRow:
    variant_id: int
    name: str
    quantity: int
    unit_price: str
    total: str


@dataclasses.dataclass
class ReviewView:
    subtotal: str = ""
    shipping: str = ""
    tax: str = ""
    total: str = ""


@access(Access.CUSTOMER)
class NewOrderState(rx.State):
    loaded: bool = False
    error: str = ""
    reorder_of: str = ""
    catalogue: list[Option] = []
    pick_variant: str = ""
    pick_qty: str = "1"
    draft: list[DraftRow] = []
    unavailable: list[str] = []
    address_options: list[Option] = []
    address_choice: str = ""
    reviewing: bool = False
    review: ReviewView = ReviewView()
    review_address: list[str] = []

    _draft: list[tuple[int, int]] = []
    _names: dict[int, tuple[str, int]] = {}
    _reorder_from: int | None = None
    _review_total: int | None = None

    @rx.event
    def load(self) -> None:
        self.reset()
        principal = require_principal(current_principal())
        source = _int(self.router.url.query_parameters.get("from", ""))
        try:
            with session_scope() as db:
                items = order_actions.catalogue(db, principal=principal)
                if source is not None:
                    again = order_actions.reorder_draft(db, principal=principal, order_id=source)
                    self._draft = [(d.variant_id, d.quantity) for d in again.lines]
                    self.unavailable = again.unavailable
                    self._reorder_from = source
                    self.reorder_of = again.number
                addresses = order_actions.saved_addresses(db, principal=principal)
                self.address_options = [Option(value=str(a.id), label=", ".join(
                    x for x in (a.label, a.line1, a.city, a.country) if x)) for a in addresses]
        except DomainError as err:
            self.error = order_message(err)
            return
        self._names = {i.variant_id: (f"{i.name} – {i.variant_label}" if i.variant_label else i.name, i.price_cents)
                       for i in items}
        self.catalogue = [Option(value=str(i.variant_id), label=f"{self._names[i.variant_id][0]} · "
                                 f"{money(i.price_cents, i.currency)} · {i.stock} in stock") for i in items]
        if self.address_options:
            self.address_choice = self.address_options[0].value
        self._rows()
        self.loaded = True

    def _rows(self) -> None:
        rows = []
        for vid, qty in self._draft:
            name, price = self._names.get(vid, ("No longer available", 0))
            rows.append(DraftRow(variant_id=vid, name=name, quantity=qty, unit_price=money(price),
                                 total=money(price * qty)))
        self.draft = rows
        self.reviewing = False
        self._review_total = None

    @rx.event
    def update_pick_variant(self, value: str) -> None:
        vid = _int(value)
        if vid is not None and vid in self._names:
            self.pick_variant = value

    @rx.event
    def update_pick_qty(self, value: str) -> None:
        if isinstance(value, str) and len(value) <= 3:
            self.pick_qty = value

    @rx.event
    def add_line(self) -> None:
        vid, qty = _int(self.pick_variant), _int(self.pick_qty)
        if vid is None or vid not in self._names:
            self.error = "Choose an item to add."
            return
        if qty is None:
            self.error = "Choose a quantity of at least 1."
            return
        if len(self._draft) >= MAX_LINES and vid not in dict(self._draft):
            self.error = "That is as many different items as one order can hold."
            return
        merged = dict(self._draft)
        merged[vid] = merged.get(vid, 0) + qty
        self._draft = list(merged.items())
        self.error = ""
        self._rows()

    @rx.event
    def update_line_qty(self, variant_id: Any, value: Any) -> None:
        vid = _int(variant_id)
        qty = 0 if value in ("0", 0) else _int(value)
        if vid is None or qty is None or vid not in dict(self._draft):
            return
        self._draft = [(v, qty) for v, q in ((v, qty if v == vid else q) for v, q in self._draft) if q > 0]
        self._rows()

    @rx.event
    def update_address_choice(self, value: str) -> None:
        if any(o.value == value for o in self.address_options):
            self.address_choice = value
            self.reviewing = False

    def _lines(self) -> list[DraftLine]:
        return [DraftLine(variant_id=v, quantity=q) for v, q in self._draft]

    @rx.event
    def review_order(self) -> None:
        if not self._draft:
            self.error = "Add at least one item."
            return
        try:
            with session_scope() as db:
                r = order_actions.review_order(db, principal=require_principal(current_principal()),
                                               lines=self._lines(), address_id=_int(self.address_choice))
        except DomainError as err:
            self.error = order_message(err)
            return
        self.error = ""
        self.draft = [DraftRow(variant_id=ln.variant_id, name=f"{ln.name} – {ln.variant_label}", quantity=ln.quantity,
                               unit_price=money(ln.unit_price_cents, r.currency),
                               total=money(ln.total_cents, r.currency)) for ln in r.lines]
        c = r.currency
        self.review = ReviewView(subtotal=money(r.subtotal_cents, c), shipping=money(r.shipping_cents, c),
                                 tax=money(r.tax_cents, c), total=money(r.total_cents, c))
        self.review_address = _address_lines(r.address)
        self._review_total = r.total_cents
        self.reviewing = True

    @rx.event
    def edit(self) -> None:
        self._rows()

    @rx.event
    def place_order(self) -> Any:
        if not self.reviewing or self._review_total is None:
            self.error = "Review the order before you place it."
            return None
        try:
            with session_scope() as db:
                order = order_actions.place_order(
                    db, principal=require_principal(current_principal()), lines=self._lines(),
                    address_id=_int(self.address_choice), expected_total_cents=self._review_total,
                    reordered_from=self._reorder_from)
                order_id = order.id
        except DomainError as err:
            # Prices or stock moved: show the review again with what is true now.
            self.error = order_message(err)
            self.reviewing = False
            return None
        return rx.redirect(f"/orders/{order_id}")
