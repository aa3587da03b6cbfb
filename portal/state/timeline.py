"""The customer's timeline page: everything that happened to their account, newest first,
filtered by kind, searched, "show more", and refreshed live when the domain announces a change."""

from __future__ import annotations

import dataclasses

import reflex as rx

from portal.domain import timeline
from portal.domain.account import describe_device
from portal.domain.events import DomainEvent, Topic
from portal.domain.timeline import Entry
from portal.format import day_time, humanize, money
from portal.live.push import listens
from portal.models import TAG_LABELS
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, current_principal

PAGE = 20
KIND_LABELS = {"orders": "Orders", "shipments": "Shipments", "returns": "Returns", "billing": "Invoices and payments",
               "support": "Tickets and chats", "documents": "Documents", "security": "Account security"}
KIND_ICONS = {"orders": "package", "shipments": "truck", "returns": "undo_2", "billing": "receipt",
              "support": "life_buoy", "documents": "file_text", "security": "shield_check"}
# What the domain's facts say, in the portal's words.
_TITLES = {
    "order.placed": "Order {s} placed",
    "shipment.checkpoint": "Parcel {s}: {status}",
    "return.requested": "Return {s} requested",
    "return.received": "Return {s} received",
    "return.refunded": "Return {s} refunded",
    "invoice.issued": "Invoice {s} issued",
    "credit_note.issued": "Credit note {s} issued",
    "payment.succeeded": "Payment of {amount} received",
    "payment.pending": "Payment of {amount} started",
    "payment.failed": "Payment of {amount} failed",
    "payment.refunded": "Payment of {amount} refunded",
    "ticket.opened": "Ticket {s} opened",
    "ticket.replied": "Support replied on ticket {s}",
    "ticket.resolved": "Ticket {s} resolved",
    "chat.started": "Live chat with support",
    "document.added": "New document: {s}",
    "document.requested": "Document requested: {s}",
    "document.signed": "You signed {s}",
    "auth.login": "Signed in",
    "auth.login_failed": "Failed sign-in attempt",
    "auth.logout": "Signed out",
    "auth.password_changed": "Password changed",
    "auth.password_reset": "Password reset by email link",
    "auth.email_verified": "Email address confirmed",
    "auth.sso_linked": "Single sign-on linked",
    "auth.sso_unlinked": "Single sign-on removed",
    "mfa.enabled": "Two-factor authentication turned on",
    "mfa.disabled": "Two-factor authentication turned off",
    "mfa.recovery_codes_regenerated": "New recovery codes created",
    "mfa.recovery_code_used": "A recovery code was used to sign in",
    "session.revoked": "A signed-in device was signed out",
    "session.revoked_all": "Signed out on every other device",
    "account.closed": "Account closed",
}


@dataclasses.dataclass
class TimelineRow:
    key: str
    kind: str
    kind_label: str
    icon: str
    title: str
    detail: str
    when: str
    link: str
    problem: bool


def _detail(e: Entry, amount: str) -> str:
    if e.kind == "security":
        return " · ".join(x for x in (describe_device(e.text) if e.text else "", e.place) if x)
    if e.kind == "shipments":
        return " · ".join(x for x in (e.text, e.place) if x)
    if e.action.startswith("payment."):
        return " · ".join(x for x in (f"Invoice {e.subject}" if e.subject else "", e.text) if x)
    if e.action == "chat.started":
        return humanize(e.status)
    return " · ".join(x for x in (e.text, amount) if x)


def entry_row(e: Entry) -> TimelineRow:
    amount = money(e.amount_cents, e.currency) if e.amount_cents is not None else ""
    status = TAG_LABELS.get(e.status, humanize(e.status)) if e.status else ""  # type: ignore[call-overload]
    template = _TITLES.get(e.action)
    if template is None:  # an order's history: "Order FH-12: cancel requested"
        template = "Order {s}: " + humanize(e.action.split(".", 1)[-1]).lower() if e.kind == "orders" \
            else humanize(e.action.replace(".", " "))
    title = template.format(s=e.subject, status=status, amount=amount)
    problem = e.action in ("payment.failed", "auth.login_failed") or e.status in ("Exception", "AttemptFail")
    return TimelineRow(key=e.key, kind=e.kind, kind_label=KIND_LABELS[e.kind], icon=KIND_ICONS[e.kind], title=title,
                       detail=_detail(e, amount), when=day_time(e.at), link=e.link, problem=problem)


KIND_CHOICES = [("all", "Everything"), *KIND_LABELS.items()]
# Every topic whose changes show on the timeline (sign-ins are read on each load).
TOPICS = (Topic.ORDERS, Topic.SHIPMENTS, Topic.BILLING, Topic.TICKETS, Topic.CHAT, Topic.DOCUMENTS)


@access(Access.CUSTOMER)
@listens(*TOPICS)
class TimelineState(PortalState, rx.State):
    loaded: bool = False
    kind: str = "all"
    query: str = ""
    rows: list[TimelineRow] = []
    has_more: bool = False
    error: str = ""
    _limit: int = PAGE

    @rx.event
    def load(self) -> None:
        self._limit = PAGE
        self._reload()

    def _live(self, batch: list[DomainEvent]) -> None:
        # Typing and read receipts of a chat change nothing shown here.
        if all(ev.topic == Topic.CHAT and (ev.data.get("read") or ev.data.get("typing")) for ev in batch):
            return
        principal = current_principal()
        if principal is not None and principal.is_customer:
            self._reload()

    def _reload(self) -> None:
        got = self._call(timeline.timeline, kinds=() if self.kind == "all" else (self.kind,),
                         query=self.query.strip(), limit=self._limit)
        if got is FAILED:
            return
        self._set(rows=[entry_row(e) for e in got.entries], has_more=got.has_more, error="", loaded=True)

    @rx.event
    def update_kind(self, value: str) -> None:
        if value != "all" and value not in timeline.KINDS:
            self.error = "Choose one of the kinds in the list."
            return
        self.kind, self._limit = value, PAGE
        self._reload()

    @rx.event
    def update_query(self, value: str) -> None:
        if not isinstance(value, str):
            return
        # What was typed stays; a search longer than the limit is refused, naming the field.
        self.query = value[:200]
        if len(value.strip()) > timeline.MAX_QUERY:
            self.error = f"Search: use at most {timeline.MAX_QUERY} characters."
            return
        self._limit = PAGE
        self._reload()

    @rx.event
    def show_more(self) -> None:
        if self.has_more:
            self._limit = min(self._limit + PAGE, timeline.MAX_LIMIT)
            self._reload()

    @rx.event
    def clear_filters(self) -> None:
        self.kind, self.query, self._limit = "all", "", PAGE
        self._reload()
