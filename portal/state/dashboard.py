"""The signed-in customer's home: a personal arrangement of widgets, each updated live."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import billing, home, inbox, offers, orders, support, timeline
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.format import day, day_time, humanize, money
from portal.i18n import N_, tr, tr_n
from portal.live.push import listens
from portal.live.views import canonical
from portal.models import ORDER_STATUS_LABELS, TAG_LABELS
from portal.state.base import PortalState, loop_first, on_loop
from portal.state.guard import Access, access, current_principal
from portal.state.messages import message_for_error
from portal.state.notifications import NotificationRow, note_row
from portal.state.support import label
from portal.state.timeline import TimelineRow, entry_row

SIZE_LABELS = {"sm": N_("Small"), "md": N_("Medium"), "lg": N_("Large")}


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


# What each widget shows depends on these topics: a live event reloads only those widgets.
WIDGET_TOPICS: dict[str, tuple[str, ...]] = {
    "recent_orders": (Topic.ORDERS, Topic.SHIPMENTS),
    "open_tickets": (Topic.TICKETS,),
    "balance": (Topic.BILLING,),
    "shipments": (Topic.SHIPMENTS, Topic.ORDERS),
    "documents": (Topic.DOCUMENTS,),
    "notifications": (Topic.NOTIFICATIONS,),
    "offers": (Topic.OFFERS, Topic.ORDERS, Topic.BILLING, Topic.PROFILE),
    "help": (),
    # Chats are left out: their typing and read receipts would reload it for nothing.
    "timeline": (Topic.ORDERS, Topic.SHIPMENTS, Topic.BILLING, Topic.TICKETS, Topic.DOCUMENTS),
}


def _layout(db: Any, *, principal: Any) -> list[dict[str, Any]]:
    """The customer's layout; the default one (most customers') kept once for all of them."""
    return canonical(home.get_layout(db, principal=principal))


def _widget_views(layout: list[dict[str, Any]]) -> list[WidgetView]:
    return [WidgetView(kind=w["kind"], title=tr(home.WIDGETS[w["kind"]]), size=w["size"],
                       limit=int(w["options"].get("limit", 0)), has_limit=w["kind"] in home.LISTS,
                       first=i == 0, last=i == len(layout) - 1) for i, w in enumerate(layout)]


@access(Access.CUSTOMER)
@listens(Topic.ORDERS, Topic.SHIPMENTS, Topic.TICKETS, Topic.BILLING, Topic.DOCUMENTS, Topic.NOTIFICATIONS,
         Topic.OFFERS, Topic.PROFILE)
class DashboardState(PortalState, rx.State):
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
    activity: list[TimelineRow] = []

    @rx.event
    @loop_first
    def load(self) -> None:
        self._refresh()

    def _live(self, batch: list[DomainEvent]) -> None:
        principal = current_principal()
        if principal is None or not principal.is_customer:
            return
        topics = {ev.topic for ev in batch}
        # Only the widgets a topic touches are loaded again; the layout, when it changed.
        self._refresh(None if Topic.PROFILE in topics else
                      {kind for kind, deps in WIDGET_TOPICS.items() if topics & set(deps)})

    def _refresh(self, only: set[str] | None = None) -> None:
        if only is not None and not only:
            return
        layout = self._view("home.layout", None, (Topic.PROFILE,), _layout)
        limits = {w["kind"]: int(w["options"].get("limit", 5)) for w in layout}
        for kind, limit in limits.items():
            if only is None or kind in only:
                self._fill(kind, limit)
        self._set(widgets=_widget_views(layout),
                  available=[WidgetChoice(kind=k, title=tr(t)) for k, t in home.WIDGETS.items() if k not in limits],
                  loaded=True)

    def _fill(self, kind: str, limit: int) -> None:
        """One widget, from the customer's kept view of it (only what the dashboard shows)."""
        deps = WIDGET_TOPICS[kind]
        if kind == "recent_orders":
            self._set(orders=[
                OrderRow(id=o.id, number=o.number, status=o.status,
                         status_label=tr(ORDER_STATUS_LABELS.get(o.status, humanize(o.status))),
                         placed=day(o.placed_at), total=money(o.total_cents, o.currency),
                         summary=(tr_n("{item} and {n} more", "{item} and {n} more", o.item_count - 1,
                                       item=o.first_item) if o.item_count > 1 else o.first_item))
                for o in self._view("home.orders", limit, deps, orders.recent_orders, limit=limit)])
        elif kind == "open_tickets":
            self._set(tickets=[
                TicketRow(id=t.id, number=t.number, subject=t.subject, status=label(t.status),
                          priority=label(t.priority), updated=day(t.updated_at))
                for t in self._view("home.tickets", limit, deps, support.open_tickets, limit=limit)])
        elif kind == "balance":
            bal = self._view("home.balance", None, deps, billing.balance)
            self._set(balance=BalanceView(
                due=money(bal.due_cents, bal.currency), overdue=money(bal.overdue_cents, bal.currency),
                has_overdue=bal.overdue_cents > 0, open_invoices=bal.open_invoices,
                store_credit=money(bal.store_credit_cents, bal.currency), next_due=day(bal.next_due_at),
            ))
        elif kind == "shipments":
            self._set(shipments=[
                ShipmentRow(id=s.id, order_id=s.order_id, carrier=s.carrier, tracking_number=s.tracking_number,
                            status=tr(TAG_LABELS.get(s.tag, humanize(s.tag))), expected=day(s.expected))
                for s in self._view("home.shipments", limit, deps, home.shipments_in_motion, limit=limit)])
        elif kind == "documents":
            self._set(documents=[
                DocumentRow(id=d.id, title=d.title, added=day(d.created_at))
                for d in self._view("home.documents", limit, deps, home.documents_awaiting_signature, limit=limit)])
        elif kind == "notifications":
            self._set(notes=[note_row(n) for n in self._view("home.notes", limit, deps, inbox.list_notifications,
                                                             limit=limit)])
        elif kind == "offers":
            # Evaluating the rules here too: a new customer sees what they qualify for at once.
            self._set(offers=[
                OfferRow(id=o.id, title=o.title, reason=o.reason, ends=day_time(o.expires_at))
                for o in self._view("home.offers", None, deps, offers.offers_for)[:limit]])
        elif kind == "help":
            self._set(articles=[
                ArticleRow(slug=a.slug, title=a.title, summary=a.summary)
                for a in self._view("home.help", limit, deps, home.help_suggestions, limit=limit)])
        elif kind == "timeline":
            self._set(activity=[entry_row(e) for e in self._view("home.timeline", limit, deps, timeline.timeline,
                                                                  limit=limit).entries])

    # --- arranging -------------------------------------------------------------------------
    # Each change starts from the stored layout (never from what the client holds), applies
    # one validated step and stores the result; the domain validates the whole layout again.

    @rx.event
    @on_loop
    def toggle_edit(self) -> None:
        self.editing = not self.editing
        self.error = ""

    def _change(self, step: Any) -> None:
        p = self._me()
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
        self._refresh()

    @staticmethod
    def _index(layout: list[dict[str, Any]], kind: Any) -> int | None:
        if not isinstance(kind, str):
            return None
        return next((i for i, w in enumerate(layout) if w["kind"] == kind), None)

    @rx.event
    def add_widget(self, kind: str) -> None:
        if not isinstance(kind, str) or kind not in home.WIDGETS:
            self.error = tr("That widget does not exist.")
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
                self.error = tr("Keep at least one widget on your home.")
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
            self.error = tr("Choose small, medium or large.")
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
            self.error = tr("Show between 1 and {max} items.", max=home.MAX_LIMIT)
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
