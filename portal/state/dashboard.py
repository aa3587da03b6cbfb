"""The signed-in customer's home: a personal arrangement of widgets, each updated live."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import billing, home, inbox, offers, orders, support
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day, day_time, humanize, money
from portal.live.push import listens
from portal.models import ORDER_STATUS_LABELS, TAG_LABELS
from portal.state.guard import Access, access, current_principal, principal_from_state
from portal.state.messages import message_for_error
from portal.state.notifications import NotificationRow, note_row

SIZE_LABELS = {"sm": "Small", "md": "Medium", "lg": "Large"}


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


@dataclasses.dataclass
class ShipmentRow:
    id: int
    order_id: int
    carrier: str
    tracking_number: str
    status: str
    expected: str


@dataclasses.dataclass
class DocumentRow:
    id: int
    title: str
    added: str


@dataclasses.dataclass
class OfferRow:
    id: int
    title: str
    reason: str
    ends: str


@dataclasses.dataclass
class ArticleRow:
    slug: str
    title: str
    summary: str


@dataclasses.dataclass
class WidgetView:
    kind: str
    title: str
    size: str
    limit: int
    has_limit: bool
    first: bool
    last: bool


@dataclasses.dataclass
class WidgetChoice:
    kind: str
    title: str


def _widget_views(layout: list[dict[str, Any]]) -> list[WidgetView]:
    return [WidgetView(kind=w["kind"], title=home.WIDGETS[w["kind"]], size=w["size"],
                       limit=int(w["options"].get("limit", 0)), has_limit=w["kind"] in home.LISTS,
                       first=i == 0, last=i == len(layout) - 1) for i, w in enumerate(layout)]


@access(Access.CUSTOMER)
@listens(Topic.ORDERS, Topic.SHIPMENTS, Topic.TICKETS, Topic.BILLING, Topic.DOCUMENTS, Topic.NOTIFICATIONS,
         Topic.OFFERS, Topic.PROFILE)
class DashboardState(rx.State):
    loaded: bool = False
    editing: bool = False
    error: str = ""
    widgets: list[WidgetView] = []
    available: list[WidgetChoice] = []
    orders: list[OrderRow] = []
    tickets: list[TicketRow] = []
    balance: BalanceView = BalanceView()
    shipments: list[ShipmentRow] = []
    documents: list[DocumentRow] = []
    notes: list[NotificationRow] = []
    offers: list[OfferRow] = []
    articles: list[ArticleRow] = []

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
            layout = home.get_layout(db, principal=principal)
            limits = {w["kind"]: int(w["options"].get("limit", 5)) for w in layout}
            self._fill(db, principal, limits)
        self.widgets = _widget_views(layout)
        self.available = [WidgetChoice(kind=k, title=t) for k, t in home.WIDGETS.items() if k not in limits]
        self.loaded = True

    def _fill(self, db: Any, principal: Principal, limits: dict[str, int]) -> None:
        # Only what the dashboard shows is queried.
        self.orders = [
            OrderRow(id=o.id, number=o.number, status=o.status,
                     status_label=ORDER_STATUS_LABELS.get(o.status, humanize(o.status)),
                     placed=day(o.placed_at), total=money(o.total_cents, o.currency),
                     summary=(o.first_item + (f" and {o.item_count - 1} more" if o.item_count > 1 else "")))
            for o in (orders.recent_orders(db, principal=principal, limit=limits["recent_orders"])
                      if "recent_orders" in limits else [])
        ]
        self.tickets = [
            TicketRow(id=t.id, number=t.number, subject=t.subject, status=humanize(t.status),
                      priority=humanize(t.priority), updated=day(t.updated_at))
            for t in (support.open_tickets(db, principal=principal, limit=limits["open_tickets"])
                      if "open_tickets" in limits else [])
        ]
        if "balance" in limits:
            bal = billing.balance(db, principal=principal)
            self.balance = BalanceView(
                due=money(bal.due_cents, bal.currency), overdue=money(bal.overdue_cents, bal.currency),
                has_overdue=bal.overdue_cents > 0, open_invoices=bal.open_invoices,
                store_credit=money(bal.store_credit_cents, bal.currency), next_due=day(bal.next_due_at),
            )
        self.shipments = [
            ShipmentRow(id=s.id, order_id=s.order_id, carrier=s.carrier, tracking_number=s.tracking_number,
                        status=TAG_LABELS.get(s.tag, humanize(s.tag)), expected=day(s.expected))
            for s in (home.shipments_in_motion(db, principal=principal, limit=limits["shipments"])
                      if "shipments" in limits else [])
        ]
        self.documents = [
            DocumentRow(id=d.id, title=d.title, added=day(d.created_at))
            for d in (home.documents_awaiting_signature(db, principal=principal, limit=limits["documents"])
                      if "documents" in limits else [])
        ]
        self.notes = [note_row(n) for n in (
            inbox.list_notifications(db, principal=principal, limit=limits["notifications"])
            if "notifications" in limits else [])]
        self.offers = [
            OfferRow(id=o.id, title=o.title, reason=o.reason, ends=day_time(o.expires_at))
            # Evaluating the rules here too: a new customer sees what they qualify for at once.
            for o in (offers.offers_for(db, principal=principal)[:limits["offers"]] if "offers" in limits else [])
        ]
        self.articles = [
            ArticleRow(slug=a.slug, title=a.title, summary=a.summary)
            for a in (home.help_suggestions(db, principal=principal, limit=limits["help"]) if "help" in limits else [])
        ]

    # --- arranging -------------------------------------------------------------------------
    # Each change starts from the stored layout (never from what the client holds), applies
    # one validated step and stores the result; the domain validates the whole layout again.

    @rx.event
    def toggle_edit(self) -> None:
        self.editing = not self.editing
        self.error = ""

    def _change(self, step: Any) -> None:
        p = require_principal(current_principal())
        try:
            with session_scope() as db:
                layout = home.get_layout(db, principal=p)
                self.error = ""
                new = step(layout)
                if new is None:
                    return
                home.save_layout(db, principal=p, layout=new)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self._load(p)

    @staticmethod
    def _index(layout: list[dict[str, Any]], kind: Any) -> int | None:
        if not isinstance(kind, str):
            return None
        return next((i for i, w in enumerate(layout) if w["kind"] == kind), None)

    @rx.event
    def add_widget(self, kind: str) -> None:
        if not isinstance(kind, str) or kind not in home.WIDGETS:
            self.error = "That widget does not exist."
            return
        size = "sm" if kind == "balance" else "md"
        options = {"limit": 5} if kind in home.LISTS else {}
        self._change(lambda lay: None if self._index(lay, kind) is not None
                     else [*lay, {"kind": kind, "size": size, "options": options}])

    @rx.event
    def remove_widget(self, kind: str) -> None:
        def step(lay: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            if self._index(lay, kind) is None:
                return None
            if len(lay) == 1:
                # An empty stored layout means "the default": keep at least one widget.
                self.error = "Keep at least one widget on your home."
                return None
            return [w for w in lay if w["kind"] != kind]

        self._change(step)

    @rx.event
    def move_widget(self, kind: str, delta: int) -> None:
        if delta not in (-1, 1) or isinstance(delta, bool):
            return

        def step(lay: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            i = self._index(lay, kind)
            if i is None or not 0 <= i + delta < len(lay):
                return None
            lay[i], lay[i + delta] = lay[i + delta], lay[i]
            return lay

        self._change(step)

    @rx.event
    def resize_widget(self, kind: str, size: str) -> None:
        if not isinstance(size, str) or size not in home.SIZES:
            self.error = "Choose small, medium or large."
            return

        def step(lay: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            i = self._index(lay, kind)
            if i is None:
                return None
            lay[i] = {**lay[i], "size": size}
            return lay

        self._change(step)

    @rx.event
    def set_limit(self, kind: str, limit: str) -> None:
        try:
            n = int(limit) if isinstance(limit, (str, int)) and not isinstance(limit, bool) else 0
        except ValueError:
            n = 0
        if not 1 <= n <= home.MAX_LIMIT:
            self.error = f"Show between 1 and {home.MAX_LIMIT} items."
            return

        def step(lay: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            i = self._index(lay, kind)
            if i is None or lay[i]["kind"] not in home.LISTS:
                return None
            lay[i] = {**lay[i], "options": {"limit": n}}
            return lay

        self._change(step)

    @rx.event
    def reset_layout(self) -> None:
        self._change(lambda _lay: [])
