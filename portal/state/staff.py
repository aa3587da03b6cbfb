"""The agent console: the queue, one ticket, live chats, figures. Staff only."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec
from sqlalchemy.exc import IntegrityError

from portal.db import session_scope, utcnow
from portal.domain import support, support_chat, support_mail
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal
from portal.format import day_time, humanize
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.models.orders import ORDER_STATUS_LABELS
from portal.models.shipping import TAG_LABELS
from portal.state import forms, tab
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, current_principal
from portal.state.messages import message_for
from portal.state.support import MessageRow, TicketHeader, header_of, label, message_rows, support_message

# Where a customer searched (SearchQuery.source), as an agent reads it in the chat context.
SEARCH_SOURCES = {"help_center": N_("Help center"), "ticket_form": N_("New ticket form"), "assistant": N_("Assistant")}


def due_text(due: datetime | None, done: datetime | None, now: datetime) -> str:
    if done is not None:
        return tr("met") if due is None or done <= due else tr("missed")
    if due is None:
        return ""
    minutes = int((due - now).total_seconds() // 60)
    if minutes < 0:
        return tr("overdue {span}", span=_span(-minutes))
    return tr("in {span}", span=_span(minutes))


def _span(minutes: int) -> str:
    if minutes < 60:
        return tr("{minutes}m", minutes=minutes)
    if minutes < 48 * 60:
        return tr("{hours}h {minutes}m", hours=minutes // 60, minutes=minutes % 60)
    return tr("{days}d", days=minutes // 1440)


@dataclasses.dataclass
class QueueRowView:
    id: int
    number: str
    subject: str
    customer: str
    category: str
    priority: str
    status: str
    assignee: str
    mine: bool
    tags: str
    updated: str
    first_response: str
    resolution: str
    at_risk: bool
    channel: str = "web"


@dataclasses.dataclass
class Option:
    value: str
    label: str


@dataclasses.dataclass
class FigureView:
    open_tickets: int = 0
    first_response: str = "–"
    resolution: str = "–"
    satisfaction: str = "–"


@dataclasses.dataclass
class ChatRow:
    id: int
    customer: str
    status: str
    page: str
    started: str
    last: str


def _figure(f: support.Figures) -> FigureView:
    fr = "–" if f.avg_first_response_minutes is None else _span(f.avg_first_response_minutes)
    sat = "–" if f.avg_rating is None else f"{f.avg_rating} / 5 ({f.rated})"
    res = "–" if f.avg_resolution_minutes is None else _span(f.avg_resolution_minutes)
    return FigureView(open_tickets=f.open_tickets, first_response=fr, resolution=res, satisfaction=sat)


def _choice(value: Any, allowed: tuple[str, ...] | list[str]) -> str | None:
    return value if isinstance(value, str) and (value == "" or value in allowed) else None


def _presence(principal: Principal, available: bool | None = None) -> bool:
    try:
        with session_scope() as db:
            return support_chat.touch_presence(db, principal=principal, available=available)
    except IntegrityError:
        # Two tabs of the same agent created the presence row at once: the row exists now.
        with session_scope() as db:
            return support_chat.touch_presence(db, principal=principal, available=available)


@access(Access.STAFF)
@listens(Topic.QUEUE, Topic.CHAT)
class AgentConsoleState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    rows: list[QueueRowView] = []
    counts: dict[str, int] = {}
    total_open: int = 0
    status: str = support.UNRESOLVED
    priority: str = ""
    category: str = ""
    tag: str = ""
    assignee: str = ""
    channel: str = ""
    categories: list[str] = []
    tags: list[str] = []
    agents: list[Option] = []
    own: FigureView = FigureView()
    team: FigureView = FigureView()
    available: bool = True
    chats: list[ChatRow] = []

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def load(self) -> None:
        self.available = _presence(self._me())
        self._reload()

    def _reload(self) -> None:
        principal = self._me()
        now = utcnow()
        with session_scope() as db:
            rows = support.queue(db, principal=principal, status=self.status or support.UNRESOLVED,
                                 priority=self.priority, category=self.category, tag=self.tag, assignee=self.assignee,
                                 channel=self.channel)
            self.counts = support.queue_summary(db, principal=principal)
            self.categories, self.tags = support.categories_and_tags(db, principal=principal)
            members = support.staff_members(db, principal=principal)
            self.agents = [Option(value=str(m.id), label=m.name) for m in members]
            own, team = support.figures(db, principal=principal)
            chats = support_chat.chats_for_agent(db, principal=principal)
        self.total_open = sum(self.counts.values())
        self.own, self.team = _figure(own), _figure(team)
        self.rows = [QueueRowView(
            id=r.id, number=r.number, subject=r.subject, customer=r.customer_name, category=label(r.category),
            priority=r.priority, status=label(r.status), assignee=r.assignee_name or "–",
            mine=r.assignee_user_id == principal.user_id, tags=", ".join(r.tags),
            updated=day_time(r.updated_at), first_response=due_text(r.first_response_due_at, r.first_responded_at, now),
            resolution=due_text(r.resolution_due_at, None, now) if r.status in support._OPEN else "",
            at_risk=r.at_risk, channel=r.channel) for r in rows]
        self.chats = [ChatRow(id=c.id, customer=c.customer_name, status=c.status, page=c.page,
                              started=day_time(c.started_at), last=(c.messages[-1].body[:80] if c.messages else ""))
                      for c in chats]
        self.loaded = True

    def _filter(self, name: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
        chosen = _choice(value, allowed)
        if chosen is None:
            return
        setattr(self, name, "" if chosen == "any" else chosen)
        self._reload()

    @rx.event
    def update_status_filter(self, value: Any) -> None:
        self._filter("status", value, (support.UNRESOLVED, "all", *support.STATUSES))

    @rx.event
    def update_priority_filter(self, value: Any) -> None:
        self._filter("priority", value, ("any", *support.PRIORITIES))

    @rx.event
    def update_category_filter(self, value: Any) -> None:
        self._filter("category", value, ("any", *support.CATEGORIES))

    @rx.event
    def update_tag_filter(self, value: Any) -> None:
        self._filter("tag", value, ("any", *self.tags))

    @rx.event
    def update_channel_filter(self, value: Any) -> None:
        self._filter("channel", value, ("any", *support.CHANNELS))

    @rx.event
    def update_assignee_filter(self, value: Any) -> None:
        self._filter("assignee", value, ("any", "me", "none", *(a.value for a in self.agents)))

    @rx.event
    def take(self, ticket_id: Any) -> None:
        if not isinstance(ticket_id, int):
            return
        if self._call(support.assign_ticket, ticket_id=ticket_id, assignee_user_id=self._me().user_id) is FAILED:
            return
        self._reload()

    @rx.event
    def update_available(self, value: Any) -> None:
        if isinstance(value, bool):
            self.available = _presence(self._me(), value)

    @rx.event
    def heartbeat(self, _value: Any = None) -> None:
        """The open console keeps the agent counted as present for live chats."""
        _presence(self._me())

    @rx.event
    def take_chat(self, conversation_id: Any) -> EventSpec | None:
        if not isinstance(conversation_id, int):
            return None
        if self._call(support_chat.take_chat, conversation_id=conversation_id) is FAILED:
            return None
        return rx.redirect(f"/agent/chats/{conversation_id}")


@dataclasses.dataclass
class ContextRow:
    label: str
    detail: str
    href: str = ""


class CustomerPanel(rx.State, mixin=True):
    """The customer context panel an agent sees next to a chat or a ticket."""

    customer_email: str = ""
    customer_number: str = ""
    page: str = ""
    about: str = ""
    orders: list[ContextRow] = []
    shipments: list[ContextRow] = []
    earlier: list[ContextRow] = []
    searches: list[ContextRow] = []
    failures: list[ContextRow] = []

    def _show_context(self, ctx: support_chat.ChatContext) -> None:
        def shown(labels: dict[str, str], value: str) -> str:
            return tr(labels.get(value, humanize(value)))

        self.customer_email, self.customer_number = ctx.customer_email, ctx.customer_number
        self.page, self.about = ctx.page, ctx.about
        self.orders = [ContextRow(label=n, detail=f"{shown(ORDER_STATUS_LABELS, st)} · {day_time(at)}")
                       for _, n, st, at in ctx.orders]
        self.shipments = [ContextRow(label=f"{c} {tn}", detail=shown(TAG_LABELS, tag)) for c, tn, tag in ctx.shipments]
        self.earlier = [ContextRow(label=f"{n} {s}", detail=label(st), href=f"/agent/tickets/{i}")
                        for i, n, s, st in ctx.tickets]
        self.searches = [ContextRow(label=q, detail=f"{shown(SEARCH_SOURCES, src)} · {day_time(at)}")
                         for q, src, at in ctx.searches]
        self.failures = [ContextRow(label=humanize(what), detail=day_time(at)) for what, at in ctx.failures]


@dataclasses.dataclass
class HeldRow:
    id: int
    sender: str
    subject: str
    when: str
    preview: str


@access(Access.STAFF)
@listens(Topic.QUEUE, Topic.TICKETS)
class AgentTicketState(CustomerPanel, PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    ticket: TicketHeader = TicketHeader()
    customer: str = ""
    assignee_id: str = ""
    mine: bool = False
    first_response: str = ""
    resolution: str = ""
    messages: list[MessageRow] = []
    draft: str = ""
    internal: bool = False
    canned: list[Option] = []
    agents: list[Option] = []
    merge_number: str = ""
    # Mail: the contact address, guest contacts, held replies and the headers shown on demand.
    contact_email: str = ""
    guest_contact: bool = False
    follow_up_of: str = ""
    link_number: str = ""
    held: list[HeldRow] = []
    headers_text: str = ""
    original_text: str = ""
    _ticket_id: int = 0
    _mail_message_ids: list[int] = []
    _held_ids: list[int] = []
    _canned_bodies: dict[str, str] = {}
    _page_key: str = ""
    form_path: str = ""  # the path whose contents this holds (portal.state.forms)
    _dirty: bool = False

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # the reply being written stays; the ticket is read again
            self.error, self.notice = "", ""
            self._reload()

    def _fresh(self) -> None:
        self.reset()
        forms.mark_fresh(self)
        raw = tab.last_segment(self)
        try:
            self._ticket_id = int(raw)
        except ValueError:
            self.error = message_for("not_found")
            return
        self._reload()

    def _live(self, batch: list[DomainEvent]) -> None:
        if all(ev.data.get("ticket_id") != self._ticket_id for ev in batch):
            return
        principal = current_principal()
        if principal is not None and principal.is_staff:
            self._reload()

    def _reload(self) -> None:
        principal = self._me()
        now = utcnow()
        try:
            with session_scope() as db:
                view = support.get_ticket(db, principal=principal, ticket_id=self._ticket_id)
                ctx = support_chat.ticket_context(db, principal=principal, ticket_id=self._ticket_id)
                canned = support.canned_replies(db, principal=principal)
                members = support.staff_members(db, principal=principal)
                held = support_mail.held_replies(db, principal=principal, ticket_id=self._ticket_id)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.contact_email, self.guest_contact = view.contact_email, view.guest_contact
        self.follow_up_of = view.follow_up_of_number
        self._mail_message_ids = [m.id for m in view.messages if m.via_email]
        self._held_ids = [h.id for h in held]
        self.held = [HeldRow(id=h.id, sender=h.from_address, subject=h.subject, when=day_time(h.received_at),
                             preview=h.preview) for h in held]
        self.ticket = header_of(view)
        self.customer = view.customer_name
        self._show_context(ctx)
        self.assignee_id = str(view.assignee_user_id or "")
        self.mine = view.assignee_user_id == principal.user_id
        self.first_response = due_text(view.first_response_due_at, view.first_responded_at, now)
        self.resolution = due_text(view.resolution_due_at, view.resolved_at, now)
        self.messages = message_rows(self, view)
        self.canned = [Option(value=str(c.id), label=c.title) for c in canned]
        self._canned_bodies = {str(c.id): c.body for c in canned}
        self.agents = [Option(value=str(m.id), label=m.name) for m in members]
        self.loaded = True

    def _act(self, fn: Any, **kwargs: Any) -> bool:
        if self._call(fn, ticket_id=self._ticket_id, **kwargs) is FAILED:
            return False
        self.error = ""
        self._reload()
        return True

    @rx.event
    def update_draft(self, value: Any) -> None:
        forms.enter(self)
        if isinstance(value, str):
            self.draft = value[: support.BODY_MAX]

    @rx.event
    def update_internal(self, value: Any) -> None:
        forms.enter(self)
        if isinstance(value, bool):
            self.internal = value

    @rx.event
    def use_canned(self, value: Any) -> None:
        forms.enter(self)
        body = self._canned_bodies.get(value) if isinstance(value, str) else None
        if body is not None:
            self.draft = (self.draft + ("\n\n" if self.draft.strip() else "") + body)[: support.BODY_MAX]

    @rx.event
    def send(self) -> None:
        if self._act(support.agent_reply, body=self.draft, internal=self.internal):
            self.notice = tr("Note added.") if self.internal else tr("Reply sent.")
            self.draft = ""
            self.internal, self._dirty = False, False

    @rx.event
    def take(self) -> None:
        self._act(support.assign_ticket, assignee_user_id=self._me().user_id)

    @rx.event
    def assign(self, value: Any) -> None:
        if not isinstance(value, str) or not value.isdigit() or len(value) > 12:
            return
        self._act(support.assign_ticket, assignee_user_id=int(value))

    @rx.event
    def update_status(self, value: Any) -> None:
        if value in support.STATUSES:
            self._act(support.set_status, status=value)

    @rx.event
    def update_priority(self, value: Any) -> None:
        if value in support.PRIORITIES:
            self._act(support.set_priority, priority=value)

    @rx.event
    def update_merge_number(self, value: Any) -> None:
        forms.enter(self)
        if isinstance(value, str):
            self.merge_number = value.strip()[:32]

    @rx.event
    def show_headers(self, message_id: Any) -> None:
        # Only a message this tab was shown, and only one that came by mail.
        if not isinstance(message_id, int) or message_id not in self._mail_message_ids:
            return
        result = self._call(support_mail.message_headers, message_id=message_id)
        if result is not FAILED:
            self.headers_text, self.original_text = result

    @rx.event
    def hide_headers(self) -> None:
        self.headers_text, self.original_text = "", ""

    @rx.event
    def decide_held(self, held_id: Any, accept: Any) -> None:
        if not isinstance(held_id, int) or held_id not in self._held_ids or not isinstance(accept, bool):
            return
        if self._act(support_mail.decide_held, held_id=held_id, accept=accept):
            self.notice = tr("Message added to the ticket.") if accept else tr("Message turned away.")

    @rx.event
    def update_link_number(self, value: Any) -> None:
        forms.enter(self)
        if isinstance(value, str):
            self.link_number = value.strip()[:32]

    @rx.event
    def link_customer(self) -> None:
        if self._act(support_mail.link_contact, customer_number=self.link_number):
            self.notice, self.link_number = tr("Linked to the customer account."), ""

    @rx.event
    def merge(self) -> EventSpec | None:
        """Merge this ticket into the one whose number the agent typed."""
        principal = self._me()
        try:
            with session_scope() as db:
                target = support.ticket_id_by_number(db, principal=principal, number=self.merge_number)
                support.merge_tickets(db, principal=principal, source_id=self._ticket_id, target_id=target)
        except DomainError as err:
            self.error = support_message(err)
            return None
        return rx.redirect(f"/agent/tickets/{target}")


@dataclasses.dataclass
class ChatLine:
    id: int
    author: str
    author_kind: str
    body: str
    when: str


@access(Access.STAFF)
@listens(Topic.CHAT)
class AgentChatState(CustomerPanel, PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    status: str = ""
    customer: str = ""
    ticket_number: str = ""
    ticket_id: int = 0
    mine: bool = False
    lines: list[ChatLine] = []
    draft: str = ""
    customer_typing: bool = False
    seen: bool = False
    agents: list[Option] = []
    _conversation_id: int = 0
    _typing_sent: bool = False
    _page_key: str = ""
    form_path: str = ""  # the path whose contents this holds (portal.state.forms)
    _dirty: bool = False

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # the message being written stays; the chat is read again
            self.error = ""
            self._load(mark_read=True)

    def _fresh(self) -> None:
        self.reset()
        forms.mark_fresh(self)
        raw = tab.last_segment(self)
        try:
            self._conversation_id = int(raw)
        except ValueError:
            self.error = message_for("not_found")
            return
        self._load(mark_read=True)

    def _live(self, batch: list[DomainEvent]) -> None:
        mine = [ev for ev in batch if ev.data.get("conversation_id") == self._conversation_id]
        principal = current_principal()
        if not mine or principal is None or not principal.is_staff:
            return
        for ev in mine:
            if "typing" in ev.data:
                self.customer_typing = ev.data.get("typing") == "customer"
        # Only typing and read receipts: nothing new to mark read.
        news = [ev for ev in mine if not (ev.data.get("read") or ev.data.get("typing") == "customer")]
        self._load(mark_read=bool(news))

    def _load(self, *, mark_read: bool) -> None:
        principal = self._me()
        try:
            with session_scope() as db:
                view = support_chat.get_chat(db, principal=principal, conversation_id=self._conversation_id)
                ctx = support_chat.chat_context(db, principal=principal, conversation_id=self._conversation_id)
                members = support.staff_members(db, principal=principal)
            mine = view.agent_user_id == principal.user_id and view.status == "active"
            if mark_read and mine:
                with session_scope() as db:
                    support_chat.mark_read(db, principal=principal, conversation_id=self._conversation_id)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.status = view.status
        self.customer = ctx.customer_name
        self._show_context(ctx)
        self.ticket_number, self.ticket_id = view.ticket_number, view.ticket_id or 0
        self.mine = mine
        self.lines = [ChatLine(id=m.id, author=m.author_name if m.author_kind != "customer" else view.customer_name,
                               author_kind=m.author_kind, body=m.body, when=day_time(m.created_at))
                      for m in view.messages]
        last_agent = max((m.created_at for m in view.messages if m.author_kind == "agent"), default=None)
        self.seen = bool(last_agent and view.customer_last_read_at and view.customer_last_read_at >= last_agent)
        self.agents = [Option(value=str(m.id), label=m.name) for m in members if m.id != principal.user_id]
        self.loaded = True

    @rx.event
    def update_draft(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        forms.enter(self)
        self.draft = value[: support_chat.BODY_MAX]
        typing_now = bool(self.draft.strip())
        if typing_now != self._typing_sent and self.mine:
            self._typing_sent = typing_now
            with session_scope() as db:
                support_chat.typing(db, principal=self._me(), conversation_id=self._conversation_id,
                                    active=typing_now)

    @rx.event
    def send(self) -> None:
        if self._call(support_chat.send_agent_message, conversation_id=self._conversation_id,
                      body=self.draft) is FAILED:
            return
        self.error = ""
        self.draft = ""
        self._typing_sent, self._dirty = False, False
        self._load(mark_read=False)

    @rx.event
    def take(self) -> None:
        if self._call(support_chat.take_chat, conversation_id=self._conversation_id) is FAILED:
            return
        self._load(mark_read=True)

    @rx.event
    def transfer(self, value: Any) -> EventSpec | None:
        if not isinstance(value, str) or not value.isdigit() or len(value) > 12:
            return None
        if self._call(support_chat.transfer_chat, conversation_id=self._conversation_id,
                      to_user_id=int(value)) is FAILED:
            return None
        return rx.redirect("/agent")

    @rx.event
    def close_to_ticket(self) -> EventSpec | None:
        ticket = self._call(support_chat.close_chat_to_ticket, conversation_id=self._conversation_id)
        if ticket is FAILED:
            return None
        return rx.redirect(f"/agent/tickets/{ticket.id}")
