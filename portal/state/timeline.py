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
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.models import TAG_LABELS
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, current_principal

PAGE = 20
# Translated where shown (tr here, t() in a page).
KIND_LABELS = {"orders": N_("Orders"), "shipments": N_("Shipments"), "returns": N_("Returns"),
               "billing": N_("Invoices and payments"), "support": N_("Tickets and chats"),
               "documents": N_("Documents"), "security": N_("Account security")}
KIND_ICONS = {"orders": "package", "shipments": "truck", "returns": "undo_2", "billing": "receipt",
              "support": "life_buoy", "documents": "file_text", "security": "shield_check"}
# What the domain's facts say, in the portal's words.
_TITLES = {
    "order.placed": N_("Order {s} placed"),
    "shipment.checkpoint": N_("Parcel {s}: {status}"),
    "return.requested": N_("Return {s} requested"),
    "return.received": N_("Return {s} received"),
    "return.refunded": N_("Return {s} refunded"),
    "invoice.issued": N_("Invoice {s} issued"),
    "credit_note.issued": N_("Credit note {s} issued"),
    "payment.succeeded": N_("Payment of {amount} received"),
    "payment.pending": N_("Payment of {amount} started"),
    "payment.failed": N_("Payment of {amount} failed"),
    "payment.refunded": N_("Payment of {amount} refunded"),
    "ticket.opened": N_("Ticket {s} opened"),
    "ticket.replied": N_("Support replied on ticket {s}"),
    "ticket.resolved": N_("Ticket {s} resolved"),
    "chat.started": N_("Live chat with support"),
    "document.added": N_("New document: {s}"),
    "document.requested": N_("Document requested: {s}"),
    "document.signed": N_("You signed {s}"),
    "auth.login": N_("Signed in"),
    "auth.login_failed": N_("Failed sign-in attempt"),
    "auth.logout": N_("Signed out"),
    "auth.password_changed": N_("Password changed"),
    "auth.password_reset": N_("Password reset by email link"),
    "auth.email_verified": N_("Email address confirmed"),
    "auth.sso_linked": N_("Single sign-on linked"),
    "auth.sso_unlinked": N_("Single sign-on removed"),
    "mfa.enabled": N_("Two-factor authentication turned on"),
    "mfa.disabled": N_("Two-factor authentication turned off"),
    "mfa.recovery_codes_regenerated": N_("New recovery codes created"),
    "mfa.recovery_code_used": N_("A recovery code was used to sign in"),
    "session.revoked": N_("A signed-in device was signed out"),
    "session.revoked_all": N_("Signed out on every other device"),
    "account.closed": N_("Account closed"),
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
        return " · ".join(x for x in (tr("Invoice {number}", number=e.subject) if e.subject else "", e.text) if x)
    if e.action == "chat.started":
        return humanize(e.status)
    return " · ".join(x for x in (e.text, amount) if x)


def entry_row(e: Entry) -> TimelineRow:
    amount = money(e.amount_cents, e.currency) if e.amount_cents is not None else ""
    status = tr(TAG_LABELS.get(e.status, humanize(e.status))) if e.status else ""  # type: ignore[call-overload]
    template = _TITLES.get(e.action)
    if template is not None:
        title = tr(template, s=e.subject, status=status, amount=amount)
    elif e.kind == "orders":  # an order's history: "Order FH-12: cancel requested"
        title = tr("Order {s}: {what}", s=e.subject, what=humanize(e.action.split(".", 1)[-1]).lower())
    else:
        title = humanize(e.action.replace(".", " "))
    problem = e.action in ("payment.failed", "auth.login_failed") or e.status in ("Exception", "AttemptFail")
    return TimelineRow(key=e.key, kind=e.kind, kind_label=tr(KIND_LABELS[e.kind]), icon=KIND_ICONS[e.kind], title=title,
                       detail=_detail(e, amount), when=day_time(e.at), link=e.link, problem=problem)


KIND_CHOICES = [("all", N_("Everything")), *KIND_LABELS.items()]
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
            self.error = tr("Choose one of the kinds in the list.")
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
            self.error = tr("Search: use at most {max} characters.", max=timeline.MAX_QUERY)
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
