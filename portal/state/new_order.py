"""A new order or a reorder of a past one: build it, review it (prices now, address, totals),
then submit. Nothing is placed until the customer confirms the review they saw."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import billing, order_actions
from portal.domain.errors import DomainError
from portal.domain.order_actions import DraftLine
from portal.format import money
from portal.i18n import tr
from portal.state import tab
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, request_info_of
from portal.state.order_detail import Option, _address_lines, _int
from portal.state.order_messages import order_message
from portal.state.session import browser_origin, navigate_to, server_url

MAX_LINES = 30
MAX_MATCHES = 12


@dataclasses.dataclass
class DraftRow:
    variant_id: int
    name: str
    quantity: int
    unit_price: str
    total: str


@dataclasses.dataclass
class PickItem:
    variant_id: str
    name: str
    variant: str
    price: str
    stock: str


@dataclasses.dataclass
class ReviewView:
    subtotal: str = ""
    shipping: str = ""
    tax: str = ""
    total: str = ""


@access(Access.CUSTOMER)
class NewOrderState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    reorder_of: str = ""
    search: str = ""
    matches: list[PickItem] = []
    match_note: str = ""
    pick_variant: str = ""
    picked: str = ""
    line_limit: int = 10
    pick_qty: str = "1"
    draft: list[DraftRow] = []
    unavailable: list[str] = []
    address_options: list[Option] = []
    address_choice: str = ""
    reviewing: bool = False
    # Online payment is on (Stripe, or the simulator in development): the review offers to pay now.
    pay_online: bool = False
    review: ReviewView = ReviewView()
    review_address: list[str] = []

    _draft: list[tuple[int, int]] = []
    _names: dict[int, tuple[str, int]] = {}
    _items: list[tuple[int, str, PickItem]] = []  # (variant id, lower-case search text, row)
    _limits: dict[int, int] = {}  # variant id -> most one line may hold
    _reorder_from: int | None = None
    _review_total: int | None = None

    def _message(self, err: DomainError) -> str:
        return order_message(err)

    @rx.event
    def load(self) -> None:
        self.reset()
        principal = self._me()
        source = _int(tab.query_parameters(self).get("from", ""))
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
        self._items = [(i.variant_id, f"{i.name} {i.variant_label} {i.category}".lower(),
                        PickItem(variant_id=str(i.variant_id), name=i.name, variant=i.variant_label,
                                 price=money(i.price_cents, i.currency), stock=tr("{stock} in stock", stock=i.stock)))
                       for i in items]
        self._limits = {i.variant_id: i.max_quantity for i in items}
        self.line_limit = order_actions.line_quantity_limit()
        self._match()
        if self.address_options:
            self.address_choice = self.address_options[0].value
        self._rows()
        self.loaded = True

    def _rows(self) -> None:
        rows = []
        for vid, qty in self._draft:
            name, price = self._names.get(vid, (tr("No longer available"), 0))
            rows.append(DraftRow(variant_id=vid, name=name, quantity=qty, unit_price=money(price),
                                 total=money(price * qty)))
        self.draft = rows
        self.reviewing = False
        self._review_total = None

    def _match(self) -> None:
        words = self.search.lower().split()
        found = [row for _vid, text, row in self._items if all(w in text for w in words)]
        self.matches = found[:MAX_MATCHES]
        self.match_note = (tr("No item matches your search.") if not found else
                           tr("Showing {shown} of {total}: type more to narrow it down.", shown=MAX_MATCHES,
                              total=len(found))
                           if len(found) > MAX_MATCHES else "")

    @rx.event
    def update_search(self, value: str) -> None:
        if isinstance(value, str) and len(value) <= 100:
            self.search = value
            self._match()

    @rx.event
    @on_loop
    def update_pick_variant(self, value: str) -> None:
        vid = _int(value)
        if vid is not None and vid in self._names:
            self.pick_variant = value
            self.picked = self._names[vid][0]

    @rx.event
    @on_loop
    def update_pick_qty(self, value: str) -> None:
        if isinstance(value, str) and len(value) <= 3:
            self.pick_qty = value

    @rx.event
    def add_line(self) -> None:
        vid, qty = _int(self.pick_variant), _int(self.pick_qty)
        if vid is None or vid not in self._names:
            self.error = tr("Choose an item to add.")
            return
        if qty is None:
            self.error = tr("Choose a quantity of at least 1.")
            return
        if len(self._draft) >= MAX_LINES and vid not in dict(self._draft):
            self.error = tr("That is as many different items as one order can hold.")
            return
        merged = dict(self._draft)
        merged[vid] = merged.get(vid, 0) + qty
        if merged[vid] > self.line_limit:
            already = merged[vid] - qty
            self.error = (tr("Quantity: at most {limit} of one item per order (you already have {already} in this "
                             "order).", limit=self.line_limit, already=already) if already
                          else tr("Quantity: at most {limit} of one item per order.", limit=self.line_limit))
            return
        if merged[vid] > self._limits.get(vid, 0):
            self.error = tr("Quantity: only {stock} of {item} in stock.", stock=self._limits.get(vid, 0),
                            item=self._names[vid][0])
            return
        self._draft = list(merged.items())
        self.error = ""
        self._rows()

    @rx.event
    def update_line_qty(self, variant_id: Any, value: Any) -> None:
        vid = _int(variant_id)
        qty = 0 if value in ("0", 0) else _int(value)
        if vid is None or qty is None or vid not in dict(self._draft):
            return
        if qty > min(self.line_limit, self._limits.get(vid, self.line_limit)):
            self.error = tr("Quantity: at most {limit} of {item} in one order.",
                            limit=min(self.line_limit, self._limits.get(vid, self.line_limit)),
                            item=self._names[vid][0] if vid in self._names else tr("this item"))
            self._rows()
            return
        self.error = ""
        self._draft = [(v, qty) for v, q in ((v, qty if v == vid else q) for v, q in self._draft) if q > 0]
        self._rows()

    @rx.event
    @on_loop
    def update_address_choice(self, value: str) -> None:
        if any(o.value == value for o in self.address_options):
            self.address_choice = value
            self.reviewing = False

    def _lines(self) -> list[DraftLine]:
        return [DraftLine(variant_id=v, quantity=q) for v, q in self._draft]

    @rx.event
    def review_order(self) -> None:
        if not self._draft:
            self.error = tr("Add at least one item.")
            return
        r = self._call(order_actions.review_order, lines=self._lines(), address_id=_int(self.address_choice))
        if r is FAILED:
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
        self.pay_online = billing.online_payment_available(server_url(self))

    @rx.event
    def edit(self) -> None:
        self._rows()

    def _place(self) -> int | None:
        if not self.reviewing or self._review_total is None:
            self.error = tr("Review the order before you place it.")
            return None
        order = self._call(order_actions.place_order, lines=self._lines(), address_id=_int(self.address_choice),
                           expected_total_cents=self._review_total, reordered_from=self._reorder_from)
        if order is FAILED:
            # Prices or stock moved: show the review again with what is true now.
            self.reviewing = False
            return None
        return order.id

    @rx.event
    def place_order(self) -> Any:
        order_id = self._place()
        return None if order_id is None else rx.redirect(f"/orders/{order_id}/placed")

    @rx.event
    def place_order_and_pay(self) -> Any:
        """Place the reviewed order, then pay its invoice on the payment provider's hosted page."""
        if not self.pay_online:
            return None
        order_id = self._place()
        if order_id is None:
            return None
        started = self._call(billing.start_order_payment, order_id=order_id, provider_base_url=server_url(self),
                             return_base=browser_origin(self), request=request_info_of(self))
        if started is FAILED:
            # The order stands, with its invoice: its page says how else to pay.
            return rx.redirect(f"/orders/{order_id}/placed")
        return navigate_to(started.url)
