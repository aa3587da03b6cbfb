"""The agent console: the queue, one ticket, live chats, figures. Staff only."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec
from sqlalchemy.exc import IntegrityError

from portal.db import session_scope, utcnow
from portal.domain import support, support_chat
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day_time, humanize
from portal.live.push import listens
from portal.state import forms
from portal.state.guard import Access, access, current_principal, principal_from_state
from portal.state.messages import message_for
from portal.state.support import MessageRow, TicketHeader, header_of, message_rows, support_message


def due_text(due: datetime | None, done: datetime | None, now: datetime) -> str:
    if done is not None:
        return "met" if due is None or done <= due else "missed"
    if due is None:
        return ""
    minutes = int((due - now).total_seconds() // 60)
    if minutes < 0:
        return f"overdue {_span(-minutes)}"
    return f"in {_span(minutes)}"


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h {minutes % 60}m"
    return f"{minutes // 1440}d"


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
    tags: str
    updated: str
    first_response: str
    resolution: str
    at_risk: bool


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
class AgentConsoleState(rx.State):
    loaded: bool = False
    error: str = ""
    rows: list[QueueRowView] = []
    counts: dict[str, int] = {}
    total_open: int = 0
    status: str = "open"
    priority: str = ""
    category: str = ""
    tag: str = ""
    assignee: str = ""
    categories: list[str] = []
    tags: list[str] = []
    agents: list[Option] = []
    own: FigureView = FigureView()
    team: FigureView = FigureView()
    available: bool = True
    chats: list[ChatRow] = []

    @rx.event
    def load(self) -> None:
        principal = require_principal(current_principal())
        self.available = _presence(principal)
        self._load(principal)

    async def _on_live(self, _event: DomainEvent) -> None:
        principal = principal_from_state(self)
        if principal is not None and principal.is_staff:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        now = utcnow()
        with session_scope() as db:
            rows = support.queue(db, principal=principal, status=self.status or "open", priority=self.priority,
                                 category=self.category, tag=self.tag, assignee=self.assignee)
            self.counts = support.queue_summary(db, principal=principal)
            self.categories, self.tags = support.categories_and_tags(db, principal=principal)
            members = support.staff_members(db, principal=principal)
            self.agents = [Option(value=str(m.id), label=m.name) for m in members]
            own, team = support.figures(db, principal=principal)
            chats = support_chat.chats_for_agent(db, principal=principal)
        self.total_open = sum(self.counts.values())
        self.own, self.team = _figure(own), _figure(team)
        self.rows = [QueueRowView(
            id=r.id, number=r.number, subject=r.subject, customer=r.customer_name, category=humanize(r.category),
            priority=r.priority, status=humanize(r.status), assignee=r.assignee_name or "–", tags=", ".join(r.tags),
            updated=day_time(r.updated_at), first_response=due_text(r.first_response_due_at, r.first_responded_at, now),
            resolution=due_text(r.resolution_due_at, None, now) if r.status in support._OPEN else "",
            at_risk=r.at_risk) for r in rows]
        self.chats = [ChatRow(id=c.id, customer=c.customer_name, status=c.status, page=c.page,
                              started=day_time(c.started_at), last=(c.messages[-1].body[:80] if c.messages else ""))
                      for c in chats]
        self.loaded = True

    def _filter(self, name: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
        chosen = _choice(value, allowed)
        if chosen is None:
            return
        setattr(self, name, "" if chosen == "any" else chosen)
        self._load(require_principal(current_principal()))

    @rx.event
    def update_status_filter(self, value: Any) -> None:
        self._filter("status", value, ("open", "all", *support.STATUSES))

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
    def update_assignee_filter(self, value: Any) -> None:
        self._filter("assignee", value, ("any", "me", "none", *(a.value for a in self.agents)))

    @rx.event
    def take(self, ticket_id: Any) -> None:
        if not isinstance(ticket_id, int):
            return
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support.assign_ticket(db, principal=principal, ticket_id=ticket_id, assignee_user_id=principal.user_id)
        except DomainError as err:
            self.error = support_message(err)
            return
        self._load(principal)

    @rx.event
    def update_available(self, value: Any) -> None:
        if isinstance(value, bool):
            self.available = _presence(require_principal(current_principal()), value)

    @rx.event
    def heartbeat(self, _value: Any = None) -> None:
        """The open console keeps the agent counted as present for live chats."""
        _presence(require_principal(current_principal()))

    @rx.event
    def take_chat(self, conversation_id: Any) -> EventSpec | None:
        if not isinstance(conversation_id, int):
            return None
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support_chat.take_chat(db, principal=principal, conversation_id=conversation_id)
        except DomainError as err:
            self.error = support_message(err)
            return None
        return rx.redirect(f"/agent/chats/{conversation_id}")


@access(Access.STAFF)
@listens(Topic.QUEUE, Topic.TICKETS)
class AgentTicketState(rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    ticket: TicketHeader = TicketHeader()
    customer: str = ""
    assignee_id: str = ""
    first_response: str = ""
    resolution: str = ""
    messages: list[MessageRow] = []
    draft: str = ""
    internal: bool = False
    canned: list[Option] = []
    agents: list[Option] = []
    merge_number: str = ""
    _ticket_id: int = 0
    _canned_bodies: dict[str, str] = {}
    _page_key: str = ""
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # the reply being written stays; the ticket is read again
            self.error, self.notice = "", ""
            self._load(require_principal(current_principal()))

    def _fresh(self) -> None:
        self.reset()
        forms.mark_fresh(self)
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            self._ticket_id = int(raw)
        except ValueError:
            self.error = message_for("not_found")
            return
        self._load(require_principal(current_principal()))

    async def _on_live(self, event: DomainEvent) -> None:
        if event.data.get("ticket_id") != self._ticket_id:
            return
        principal = principal_from_state(self)
        if principal is not None and principal.is_staff:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        now = utcnow()
        try:
            with session_scope() as db:
                view = support.get_ticket(db, principal=principal, ticket_id=self._ticket_id)
                canned = support.canned_replies(db, principal=principal)
                members = support.staff_members(db, principal=principal)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.ticket = header_of(view)
        self.customer = view.customer_name
        self.assignee_id = str(view.assignee_user_id or "")
        self.first_response = due_text(view.first_response_due_at, view.first_responded_at, now)
        self.resolution = due_text(view.resolution_due_at, view.resolved_at, now)
        self.messages = message_rows(self, view)
        self.canned = [Option(value=str(c.id), label=c.title) for c in canned]
        self._canned_bodies = {str(c.id): c.body for c in canned}
        self.agents = [Option(value=str(m.id), label=m.name) for m in members]
        self.loaded = True

    def _act(self, fn: Any, **kwargs: Any) -> bool:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                fn(db, principal=principal, ticket_id=self._ticket_id, **kwargs)
        except DomainError as err:
            self.error = support_message(err)
            return False
        self.error = ""
        self._load(principal)
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
            self.notice = "Note added." if self.internal else "Reply sent."
            self.draft = ""
            self.internal, self._dirty = False, False

    @rx.event
    def take(self) -> None:
        principal = require_principal(current_principal())
        self._act(support.assign_ticket, assignee_user_id=principal.user_id)

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
    def merge(self) -> EventSpec | None:
        """Merge this ticket into the one whose number the agent typed."""
        principal = require_principal(current_principal())
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


@dataclasses.dataclass
class ContextRow:
    label: str
    detail: str
    href: str = ""


@access(Access.STAFF)
@listens(Topic.CHAT)
class AgentChatState(rx.State):
    loaded: bool = False
    error: str = ""
    status: str = ""
    customer: str = ""
    customer_email: str = ""
    customer_number: str = ""
    page: str = ""
    ticket_number: str = ""
    ticket_id: int = 0
    mine: bool = False
    lines: list[ChatLine] = []
    orders: list[ContextRow] = []
    shipments: list[ContextRow] = []
    earlier: list[ContextRow] = []
    searches: list[ContextRow] = []
    failures: list[ContextRow] = []
    draft: str = ""
    customer_typing: bool = False
    seen: bool = False
    agents: list[Option] = []
    _conversation_id: int = 0
    _typing_sent: bool = False
    _page_key: str = ""
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # the message being written stays; the chat is read again
            self.error = ""
            self._load(require_principal(current_principal()), mark_read=True)

    def _fresh(self) -> None:
        self.reset()
        forms.mark_fresh(self)
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            self._conversation_id = int(raw)
        except ValueError:
            self.error = message_for("not_found")
            return
        self._load(require_principal(current_principal()), mark_read=True)

    async def _on_live(self, event: DomainEvent) -> None:
        if event.data.get("conversation_id") != self._conversation_id:
            return
        principal = principal_from_state(self)
        if principal is None or not principal.is_staff:
            return
        if "typing" in event.data:
            self.customer_typing = event.data.get("typing") == "customer"
        if event.data.get("read") or event.data.get("typing") == "customer":
            self._load(principal, mark_read=False)
            return
        self._load(principal, mark_read=True)

    def _load(self, principal: Principal, *, mark_read: bool) -> None:
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
        self.customer, self.customer_email, self.customer_number = ctx.customer_name, ctx.customer_email, \
            ctx.customer_number
        self.page = ctx.page
        self.ticket_number, self.ticket_id = view.ticket_number, view.ticket_id or 0
        self.mine = mine
        self.lines = [ChatLine(id=m.id, author=m.author_name if m.author_kind != "customer" else view.customer_name,
                               author_kind=m.author_kind, body=m.body, when=day_time(m.created_at))
                      for m in view.messages]
        last_agent = max((m.created_at for m in view.messages if m.author_kind == "agent"), default=None)
        self.seen = bool(last_agent and view.customer_last_read_at and view.customer_last_read_at >= last_agent)
        self.orders = [ContextRow(label=n, detail=f"{humanize(st)} · {day_time(at)}") for _, n, st, at in ctx.orders]
        self.shipments = [ContextRow(label=f"{c} {tn}", detail=humanize(tag)) for c, tn, tag in ctx.shipments]
        self.earlier = [ContextRow(label=f"{n} {s}", detail=humanize(st), href=f"/agent/tickets/{i}")
                        for i, n, s, st in ctx.tickets]
        self.searches = [ContextRow(label=q, detail=f"{humanize(src)} · {day_time(at)}") for q, src, at in ctx.searches]
        self.failures = [ContextRow(label=humanize(what), detail=day_time(at)) for what, at in ctx.failures]
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
                support_chat.typing(db, principal=require_principal(current_principal()),
                                    conversation_id=self._conversation_id, active=typing_now)

    @rx.event
    def send(self) -> None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support_chat.send_agent_message(db, principal=principal, conversation_id=self._conversation_id,
                                                body=self.draft)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.error = ""
        self.draft = ""
        self._typing_sent, self._dirty = False, False
        self._load(principal, mark_read=False)

    @rx.event
    def take(self) -> None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support_chat.take_chat(db, principal=principal, conversation_id=self._conversation_id)
        except DomainError as err:
            self.error = support_message(err)
            return
        self._load(principal, mark_read=True)

    @rx.event
    def transfer(self, value: Any) -> EventSpec | None:
        if not isinstance(value, str) or not value.isdigit() or len(value) > 12:
            return None
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support_chat.transfer_chat(db, principal=principal, conversation_id=self._conversation_id,
                                           to_user_id=int(value))
        except DomainError as err:
            self.error = support_message(err)
            return None
        return rx.redirect("/agent")

    @rx.event
    def close_to_ticket(self) -> EventSpec | None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                ticket = support_chat.close_chat_to_ticket(db, principal=principal,
                                                           conversation_id=self._conversation_id)
                ticket_id = ticket.id
        except DomainError as err:
            self.error = support_message(err)
            return None
        return rx.redirect(f"/agent/tickets/{ticket_id}")
