"""One order, as its owner sees it, and what they may do with it now.

The order id comes from the URL and is kept in a backend var; every other id a handler gets
(line, address, variant, photo) is checked again by the domain against the signed-in customer.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from portal.db import session_scope
from portal.domain import order_actions, order_billing, orders, returns
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.order_policy import current_policy
from portal.domain.order_wording import CANCEL_REASON_LABELS, RETURN_REASON_LABELS, event_text, why_not
from portal.domain.principal import Principal
from portal.format import day, day_time, humanize, money
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.live.runtime import offload
from portal.models import ORDER_STATUS_LABELS, TAG_LABELS, RefundMethod, ReturnStatus
from portal.state import tab
from portal.state.base import PortalState, loop_first, on_loop
from portal.state.guard import Access, access, current_principal
from portal.state.order_messages import FIELDS, order_message
from portal.state.session import backend_url

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")
MAX_FIELD = 200
# How statuses and who did what are shown (translated with tr where shown).
PAYMENT_STATUS_LABELS = {"pending": N_("Pending"), "processing": N_("Processing"), "succeeded": N_("Succeeded"),
                         "failed": N_("Failed"), "refunded": N_("Refunded")}
RETURN_STATUS_LABELS = {"requested": N_("Requested"), "approved": N_("Approved"), "label_issued": N_("Label issued"),
                        "in_transit": N_("In transit"), "received": N_("Received"), "refunded": N_("Refunded"),
                        "rejected": N_("Rejected"), "cancelled": N_("Cancelled")}
ACTOR_LABELS = {"customer": N_("You"), "agent": N_("Support"), "assistant": N_("Assistant")}


@dataclasses.dataclass
class LineRow:
    id: int
    name: str
    variant: str
    quantity: int
    unit_price: str
    total: str
    returnable: int
    returned: int


@dataclasses.dataclass
class OrderHeader:
    id: int = 0
    number: str = ""
    status: str = ""
    status_label: str = ""
    placed: str = ""
    subtotal: str = ""
    shipping: str = ""
    tax: str = ""
    discount: str = ""
    has_discount: bool = False
    total: str = ""
    delivery_window: str = ""
    return_deadline: str = ""


@dataclasses.dataclass
class Option:
    value: str
    label: str


@dataclasses.dataclass
class PaymentRow:
    method: str
    amount: str
    status: str
    when: str


@dataclasses.dataclass
class ShipmentRow:
    id: int
    carrier: str
    tracking_number: str
    status: str
    expected: str
    href: str


@dataclasses.dataclass
class DocumentRow:
    title: str
    kind: str
    created: str
    # Empty for a document without a file yet (e.g. one the business asked the customer for).
    href: str = ""


@dataclasses.dataclass
class ReturnRow:
    id: int
    number: str
    status: str
    status_label: str
    amount: str
    method: str
    created: str
    contents: str
    photos: int
    label_href: str
    can_cancel: bool = False


@dataclasses.dataclass
class EventRow:
    when: str
    message: str
    actor: str


@dataclasses.dataclass
class ActionsView:
    cancel: bool = False
    cancel_why: str = ""
    change_address: bool = False
    change_address_why: str = ""
    change_variant: bool = False
    change_variant_why: str = ""
    delivery_window: bool = False
    delivery_window_why: str = ""
    return_: bool = False
    return_why: str = ""
    reorder: bool = False


@dataclasses.dataclass
class PhotoRow:
    id: int
    name: str
    size: str


def _address_lines(a: dict[str, Any]) -> list[str]:
    city = " ".join(x for x in (str(a.get("postal_code", "")), str(a.get("city", ""))) if x)
    return [str(x) for x in (a.get("name"), a.get("company"), a.get("line1"), a.get("line2"), city,
                             a.get("region"), a.get("country")) if x]


def _int(value: Any) -> int | None:
    """A positive id from a client argument, or None: anything else is ignored."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# An order's page shows its payments, documents and the saved addresses to send it to.
ORDER_TOPICS = (Topic.ORDERS, Topic.SHIPMENTS, Topic.BILLING, Topic.DOCUMENTS, Topic.PROFILE)


@access(Access.CUSTOMER)
@listens(*ORDER_TOPICS)
class OrderDetailState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    action_error: str = ""
    order: OrderHeader = OrderHeader()
    lines: list[LineRow] = []
    shipping_address: list[str] = []
    billing_address: list[str] = []
    payments: list[PaymentRow] = []
    shipments: list[ShipmentRow] = []
    documents: list[DocumentRow] = []
    returns: list[ReturnRow] = []
    timeline: list[EventRow] = []
    actions: ActionsView = ActionsView()
    # open panel: "", "cancel", "address", "variant", "window", "return"
    panel: str = ""

    cancel_reason: str = ""
    address_options: list[Option] = []
    address_choice: str = ""
    addr_name: str = ""
    addr_line1: str = ""
    addr_line2: str = ""
    addr_city: str = ""
    addr_postal_code: str = ""
    addr_country: str = ""
    variant_lines: list[Option] = []
    variant_line: str = ""
    variant_options: list[Option] = []
    variant_choice: str = ""
    window_options: list[Option] = []
    window_choice: str = ""
    window_carrier: str = ""
    return_qty: dict[str, int] = {}
    return_reason: str = ""
    return_note: str = ""
    refund_method: str = RefundMethod.ORIGINAL.value
    return_quote: str = ""
    return_bonus_note: str = ""
    photos: list[PhotoRow] = []

    cancelling_return: str = ""  # the number of the return the customer is asked to confirm calling off
    _order_id: int | None = None
    _cancel_return_id: int | None = None
    _variant_choices: dict[int, list[tuple[int, str]]] = {}
    _quote_cents: int | None = None
    _photo_ids: list[int] = []

    @rx.event
    @loop_first
    def load(self) -> None:
        principal = self._me()
        raw = tab.last_segment(self)
        order_id = _int(raw)
        if order_id is None or order_id != self._order_id or not self.loaded:
            self.reset()
        else:
            # The same order again: a fresh page (panels closed), but only what changed is sent.
            self._set(panel="", notice="", action_error="", error="", cancelling_return="")
            self._cancel_return_id = None
        if order_id is None:
            self.error = tr("That is not an order number we know.")
            return
        self._order_id = order_id
        self._refresh(principal)

    def _live(self, batch: list[DomainEvent]) -> None:
        principal = current_principal()
        if principal is None or not principal.is_customer or self._order_id is None:
            return
        if any(ev.data.get("order_id") in (None, self._order_id) for ev in batch):
            self._refresh(principal)

    def _refresh(self, principal: Principal) -> None:
        """Reload what is shown; what the person is typing in an open form stays."""
        if self._order_id is None:
            return
        try:
            d = self._view("order", self._order_id, ORDER_TOPICS, orders.order_detail, order_id=self._order_id)
        except DomainError as err:
            self._order_id = None
            self.error = order_message(err)
            return
        o = d.order
        c = o.currency
        window = ""
        if d.delivery_window_start and d.delivery_window_end:
            # Shown in the carrier's local time, as the windows were offered.
            tz = ZoneInfo(current_policy().window_timezone)
            start, end = d.delivery_window_start.astimezone(tz), d.delivery_window_end.astimezone(tz)
            window = f"{day_time(start, tz)}–{end:%H:%M} ({tz.key})"
        order = OrderHeader(
            id=o.id, number=o.number, status=o.status,
            status_label=tr(ORDER_STATUS_LABELS.get(o.status, humanize(o.status))),
            placed=day(o.placed_at), subtotal=money(o.subtotal_cents, c), shipping=money(o.shipping_cents, c),
            tax=money(o.tax_cents, c), discount=money(-o.discount_cents, c), has_discount=o.discount_cents > 0,
            total=money(o.total_cents, c), delivery_window=window,
            return_deadline=day(d.return_deadline) if d.return_deadline and not d.actions["return"] else "",
        )
        lines = [LineRow(id=ln.id, name=ln.name, variant=ln.variant_label, quantity=ln.quantity,
                         unit_price=money(ln.unit_price_cents, c), total=money(ln.total_cents, c),
                         returnable=d.returnable.get(ln.id, 0), returned=ln.returned_quantity)
                 for ln in d.lines]
        payments = [PaymentRow(method=p.method_label or humanize(p.method),
                               amount=money(p.amount_cents, p.currency),
                               status=tr(PAYMENT_STATUS_LABELS.get(p.status, humanize(p.status))),
                               when=day(p.created_at)) for p in d.payments]
        shipments = [ShipmentRow(id=s.id, carrier=s.carrier_name or s.carrier.upper(),
                                 tracking_number=s.tracking_number, status=tr(TAG_LABELS.get(s.tag, s.tag)),
                                 expected=day(s.expected_delivery_end) if s.expected_delivery_end else "",
                                 href=f"/shipments/{s.id}") for s in d.shipments]
        documents = [DocumentRow(title=doc.title, kind=humanize(doc.kind), created=day(doc.created_at),
                                 href=backend_url(self, f"/api/files/documents/{doc.id}") if doc.filename
                                 else "")
                     for doc in d.documents]
        return_rows = [ReturnRow(
            id=r.ret.id, number=r.ret.number, status=r.ret.status,
            status_label=tr(RETURN_STATUS_LABELS.get(r.ret.status, humanize(r.ret.status))),
            amount=money(r.ret.refund_cents, r.ret.currency),
            method=tr("Store credit") if r.ret.refund_method == RefundMethod.STORE_CREDIT else tr("Original payment"),
            created=day(r.ret.created_at), contents=", ".join(f"{q} × {name}" for name, q in r.lines),
            photos=r.photo_count,
            label_href=backend_url(self, f"/api/returns/{r.ret.id}/label.pdf")
            if r.has_label and r.ret.status != ReturnStatus.CANCELLED else "",
            can_cancel=r.ret.status in returns.CANCELLABLE_RETURN_STATUSES,
        ) for r in d.returns]
        if self._cancel_return_id not in {r.id for r in return_rows}:
            self._cancel_return_id = None
            self._set(cancelling_return="")
        timeline = [EventRow(when=day_time(e.created_at),
                             message=event_text(e.kind, e.data, e.message or humanize(e.kind)),
                             actor=tr(ACTOR_LABELS.get(e.actor_kind, ""))) for e in d.events]
        a = d.actions
        actions = ActionsView(
            cancel=not a["cancel"], cancel_why=why_not("cancel", a["cancel"]),
            change_address=not a["change_address"], change_address_why=why_not("change_address", a["change_address"]),
            change_variant=not a["change_variant"], change_variant_why=why_not("change_variant", a["change_variant"]),
            delivery_window=not a["delivery_window"],
            delivery_window_why=why_not("delivery_window", a["delivery_window"]),
            return_=not a["return"], return_why=why_not("return", a["return"]), reorder=not a["reorder"],
        )
        address_options = [Option(value=str(ad.id), label=", ".join(
            x for x in (ad.label, ad.line1, ad.city, ad.country) if x)) for ad in d.saved_addresses]
        self._variant_choices = {lid: [(ch.id, ch.label) for ch in chs] for lid, chs in d.variant_choices.items()}
        variant_lines = [Option(value=str(ln.id), label=f"{ln.name} ({ln.variant_label})")
                         for ln in d.lines if self._variant_choices.get(ln.id)]
        window_options = [Option(value=w.key, label=w.label) for w in d.window_offers]
        # A quote is only good for what is still returnable.
        return_qty = {k: min(v, d.returnable.get(int(k), 0)) for k, v in self.return_qty.items()}
        # Only what changed goes to the browser: a visit to an unchanged order sends (almost) nothing.
        self._set(order=order, lines=lines, shipping_address=_address_lines(d.shipping_address),
                  billing_address=_address_lines(d.billing_address), payments=payments, shipments=shipments,
                  documents=documents, returns=return_rows, timeline=timeline, actions=actions,
                  address_options=address_options, variant_lines=variant_lines,
                  window_carrier=d.window_carrier.upper(), window_options=window_options,
                  return_qty=return_qty if actions.return_ else {}, loaded=True)

    def _principal(self) -> Principal:
        return self._me()

    def _done(self, notice: str) -> None:
        self.panel = ""
        self.action_error = ""
        self.notice = notice
        self._refresh(self._principal())

    # -- panels --------------------------------------------------------------------------------

    @rx.event
    @on_loop
    def open_panel(self, name: str) -> None:
        if name not in ("", "cancel", "address", "variant", "window", "return") or self._order_id is None:
            return
        self.panel = name
        self.action_error = ""
        self.notice = ""

    @rx.event
    @on_loop
    def close_panel(self) -> None:
        self.panel = ""
        self.action_error = ""

    # -- cancel --------------------------------------------------------------------------------

    @rx.event
    @on_loop
    def update_cancel_reason(self, value: str) -> None:
        if value in CANCEL_REASON_LABELS:
            self.cancel_reason = value

    @rx.event
    def cancel_order(self) -> None:
        if self._order_id is None:
            return
        if self.cancel_reason not in CANCEL_REASON_LABELS:
            self.action_error = tr(FIELDS["reason"])
            return
        try:
            with session_scope() as db:
                order = order_actions.cancel_order(db, principal=self._principal(), order_id=self._order_id,
                                                   reason=self.cancel_reason)
                settled = order_billing.settlement_of(db, order=order).sentence
        except DomainError as err:
            self.action_error = order_message(err)
            return
        self._done(tr("Your order is cancelled. {settlement}", settlement=settled or tr(
            "Anything you paid will be refunded to your original payment method.")))

    # -- calling off a return --------------------------------------------------------------------

    @rx.event
    @on_loop
    def ask_cancel_return(self, return_id: int) -> None:
        """Ask to confirm; only a return this page shows (this customer's, on this order) can be named."""
        row = next((r for r in self.returns if r.id == return_id and r.can_cancel), None) \
            if isinstance(return_id, int) else None
        if row is None:
            return
        self._cancel_return_id, self.cancelling_return = row.id, row.number
        self.notice, self.action_error = "", ""

    @rx.event
    @on_loop
    def keep_return(self) -> None:
        self._cancel_return_id, self.cancelling_return = None, ""

    @rx.event
    def cancel_return(self) -> None:
        if self._cancel_return_id is None:
            return
        try:
            with session_scope() as db:
                ret = returns.cancel_return(db, principal=self._principal(), return_id=self._cancel_return_id)
                number = ret.number
        except DomainError as err:
            self.action_error = order_message(err)
            return
        self._cancel_return_id, self.cancelling_return = None, ""
        self._done(tr("Return {number} is cancelled. Don't send the parcel; you can start a new return while the "
                      "return window is open.", number=number))

    # -- address -------------------------------------------------------------------------------

    @rx.event
    @on_loop
    def update_address_choice(self, value: str) -> None:
        if isinstance(value, str) and (value == "new" or _int(value) is not None):
            self.address_choice = value

    @rx.event
    @on_loop
    def update_address_field(self, field: str, value: str) -> None:
        if field in ADDRESS_FIELDS and isinstance(value, str):
            setattr(self, f"addr_{field}", value[:MAX_FIELD])

    @rx.event
    def change_address(self) -> None:
        if self._order_id is None:
            return
        kwargs: dict[str, Any]
        if self.address_choice == "new":
            kwargs = {"new_address": {f: getattr(self, f"addr_{f}") for f in ADDRESS_FIELDS}}
        elif (address_id := _int(self.address_choice)) is not None:
            kwargs = {"address_id": address_id}
        else:
            self.action_error = tr("Choose a saved address or enter a new one.")
            return
        try:
            with session_scope() as db:
                order_actions.change_shipping_address(db, principal=self._principal(), order_id=self._order_id,
                                                      **kwargs)
        except DomainError as err:
            self.action_error = order_message(err)
            return
        for f in ADDRESS_FIELDS:
            setattr(self, f"addr_{f}", "")
        self.address_choice = ""
        self._done(tr("The delivery address is changed."))

    # -- variant -------------------------------------------------------------------------------

    @rx.event
    def update_variant_line(self, value: str) -> None:
        line_id = _int(value)
        if line_id is None or line_id not in self._variant_choices:
            return
        self.variant_line = str(line_id)
        self.variant_options = [Option(value=str(vid), label=label) for vid, label in self._variant_choices[line_id]]
        self.variant_choice = ""

    @rx.event
    def update_variant_choice(self, value: str) -> None:
        if _int(value) is not None:
            self.variant_choice = value

    @rx.event
    def change_variant(self) -> None:
        line_id, variant_id = _int(self.variant_line), _int(self.variant_choice)
        if self._order_id is None:
            return
        if line_id is None or variant_id is None:
            self.action_error = tr("Choose the item and its new size or colour.")
            return
        try:
            with session_scope() as db:
                order_actions.change_line_variant(db, principal=self._principal(), order_id=self._order_id,
                                                  line_id=line_id, variant_id=variant_id)
        except DomainError as err:
            self.action_error = order_message(err)
            return
        self.variant_line, self.variant_choice, self.variant_options = "", "", []
        self._done(tr("The item is changed."))

    # -- delivery window -----------------------------------------------------------------------

    @rx.event
    @on_loop
    def update_window_choice(self, value: str) -> None:
        if isinstance(value, str) and len(value) <= 40:
            self.window_choice = value

    @rx.event
    def choose_window(self) -> None:
        if self._order_id is None:
            return
        if not self.window_choice:
            self.action_error = tr(FIELDS["window"])
            return
        try:
            with session_scope() as db:
                order_actions.set_delivery_window(db, principal=self._principal(), order_id=self._order_id,
                                                  window_key=self.window_choice)
        except DomainError as err:
            self.action_error = order_message(err)
            return
        self.window_choice = ""
        self._done(tr("Your delivery window is saved; the carrier has been told."))

    # -- return --------------------------------------------------------------------------------

    @rx.event
    def update_return_qty(self, line_id: Any, value: Any) -> None:
        lid = _int(line_id)
        returnable = {ln.id: ln.returnable for ln in self.lines}
        if lid is None or lid not in returnable:
            return
        qty = _int(value) if value not in ("0", 0) else 0
        if qty is None:
            return
        qty = max(0, min(qty, returnable[lid]))
        self.return_qty = {**self.return_qty, str(lid): qty}
        self._quote()

    @rx.event
    @on_loop
    def update_return_reason(self, value: str) -> None:
        if value in RETURN_REASON_LABELS:
            self.return_reason = value

    @rx.event
    @on_loop
    def update_return_note(self, value: str) -> None:
        if isinstance(value, str):
            self.return_note = value[:returns.MAX_NOTE]

    @rx.event
    def update_refund_method(self, value: str) -> None:
        if value in (RefundMethod.ORIGINAL.value, RefundMethod.STORE_CREDIT.value):
            self.refund_method = value
            self._quote()

    def _chosen(self) -> dict[int, int]:
        return {int(k): v for k, v in self.return_qty.items() if v > 0}

    def _quote(self) -> None:
        self._quote_cents, self.return_quote, self.return_bonus_note = None, "", ""
        chosen = self._chosen()
        if not chosen or self._order_id is None:
            return
        try:
            with session_scope() as db:
                q = returns.quote_return(db, principal=self._principal(), order_id=self._order_id,
                                         quantities=chosen, refund_method=self.refund_method)
        except DomainError as err:
            self.action_error = order_message(err)
            return
        self.action_error = ""
        self._quote_cents = q.amount_cents
        self.return_quote = money(q.amount_cents, q.currency)
        if q.bonus_cents:
            self.return_bonus_note = tr("Includes a {amount} bonus ({percent}%) for choosing store credit.",
                                        amount=money(q.bonus_cents, q.currency),
                                        percent=current_policy().store_credit_bonus_percent)

    @rx.event
    async def upload_photos(self, files: list[rx.UploadFile]) -> None:
        if self._order_id is None or not self.actions.return_:
            return
        policy = current_policy()
        received = [(str(f.filename or f.name or "photo"), f.content_type or "",
                     await f.read(policy.return_photo_max_bytes + 1)) for f in files[: policy.return_photos_max]]
        await offload(self._stage_photos, received)

    def _stage_photos(self, received: list[tuple[str, str, bytes]]) -> None:
        for filename, content_type, data in received:
            try:
                with session_scope() as db:
                    photo = returns.stage_photo(db, principal=self._principal(), filename=filename,
                                                content_type=content_type, data=data)
                    db.flush()
                    row = PhotoRow(id=photo.id or 0, name=photo.filename, size=f"{max(1, photo.size_bytes // 1024)} KB")
            except DomainError as err:
                self.action_error = order_message(err)
                continue
            self._photo_ids = [*self._photo_ids, row.id]
            self.photos = [*self.photos, row]

    @rx.event
    def remove_photo(self, photo_id: Any) -> None:
        pid = _int(photo_id)
        if pid is None or pid not in self._photo_ids:
            return
        try:
            with session_scope() as db:
                returns.discard_photo(db, principal=self._principal(), photo_id=pid)
        except DomainError:
            pass
        self._photo_ids = [p for p in self._photo_ids if p != pid]
        self.photos = [p for p in self.photos if p.id != pid]

    @rx.event
    def submit_return(self) -> None:
        if self._order_id is None:
            return
        chosen = self._chosen()
        if not chosen:
            self.action_error = tr(FIELDS["lines"])
            return
        if self.return_reason not in RETURN_REASON_LABELS:
            self.action_error = tr(FIELDS["reason"])
            return
        if self._quote_cents is None:
            self._quote()
            if self._quote_cents is None:
                return
        try:
            with session_scope() as db:
                ret = returns.start_return(
                    db, principal=self._principal(), order_id=self._order_id, quantities=chosen,
                    reason=self.return_reason, note=self.return_note, refund_method=self.refund_method,
                    photo_ids=list(self._photo_ids), expected_amount_cents=self._quote_cents)
                number = ret.number
        except DomainError as err:
            self.action_error = order_message(err)
            self._quote()
            return
        self.return_qty, self.return_reason, self.return_note, self.photos, self._photo_ids = {}, "", "", [], []
        self.return_quote, self.return_bonus_note, self._quote_cents = "", "", None
        self._done(tr("Return {number} is started. Download the label below and attach it to the parcel.",
                      number=number))
