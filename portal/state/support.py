"""Customers' support: open a ticket (with help-article suggestions), follow and answer it.

Ids that come from the browser (URL, buttons) are never trusted: the domain checks that
they belong to the signed-in customer, and answers "not found" otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import attachments as att
from portal.domain import support
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day, day_time, humanize
from portal.live.push import listens
from portal.settings import get_settings
from portal.state import forms
from portal.state.guard import Access, access, current_principal, principal_from_state
from portal.state.messages import message_for
from portal.state.session import backend_url

# Wording for the support area's error details (the domain only gives codes).
SUPPORT_MESSAGES: dict[str, str] = {
    "empty": "Write a message first.",
    "rate": "You are sending a lot in a short time. Please wait a minute and try again; what you wrote is kept.",
    "too_long": "That is too long. Please shorten it.",
    "category": "Choose one of the categories.",
    "priority": "Choose one of the priorities.",
    "too_many_tags": "Use at most 5 tags.",
    "rating": "Choose a rating from 1 to 5 stars.",
    "empty_file": "That file is empty.",
    "too_large": "That file is too large.",
    "file_type": "We accept pictures (PNG, JPEG, GIF, WebP), PDF and plain-text files, "
                 "and the file must really be of the type its name says.",
    "too_many_files": "Attach at most 5 files to one message.",
    "ticket_closed": "This ticket is closed, so it can no longer be answered. Open a new ticket instead.",
    "reopen_window": "This ticket can no longer be reopened. Please open a new ticket.",
    "not_rateable": "This ticket cannot be rated (now).",
    "merge_self": "Choose a different ticket to merge into.",
    "merge_other_customer": "Only tickets of the same customer can be merged.",
    "already_merged": "One of these tickets was already merged.",
    "chat_closed": "This chat has ended.",
    "chat_not_yours": "This chat is handled by another agent.",
    "chat_taken": "Another agent already took this chat.",
}


def support_message(err: DomainError) -> str:
    if err.detail == "empty" and err.data.get("field") == "subject":
        return "Give your ticket a subject."
    if err.detail in SUPPORT_MESSAGES:
        return SUPPORT_MESSAGES[err.detail]
    if err.code == "not_found" and err.detail == "attachment":
        return "That file is no longer available. Attach it again."
    return message_for(err.code)


def size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


@dataclasses.dataclass
class FileRow:
    id: int
    name: str
    size: str
    url: str = ""


@dataclasses.dataclass
class SuggestionRow:
    id: int
    title: str
    summary: str


@dataclasses.dataclass
class TicketListRow:
    id: int
    number: str
    subject: str
    status: str
    status_label: str
    priority: str
    updated: str


@dataclasses.dataclass
class MessageRow:
    id: int
    author: str
    author_kind: str
    body: str
    when: str
    internal: bool
    files: list[FileRow]


@dataclasses.dataclass
class TicketHeader:
    number: str = ""
    subject: str = ""
    status: str = ""
    status_label: str = ""
    priority: str = ""
    category: str = ""
    context: str = ""
    opened: str = ""
    assignee: str = ""
    tags: str = ""
    rating: int = 0
    rating_comment: str = ""
    merged_into: str = ""
    can_reply: bool = False
    can_reopen: bool = False
    can_rate: bool = False


def message_rows(state: rx.State, view: support.TicketView) -> list[MessageRow]:
    return [
        MessageRow(id=m.id, author=m.author_name or humanize(m.author_kind), author_kind=m.author_kind, body=m.body,
                   when=day_time(m.created_at), internal=m.internal,
                   files=[FileRow(id=f.id, name=f.filename, size=size_text(f.size_bytes),
                                  url=backend_url(state, f"/api/support/attachments/{f.id}"))
                          for f in m.attachments])
        for m in view.messages
    ]


def header_of(view: support.TicketView) -> TicketHeader:
    return TicketHeader(
        number=view.number, subject=view.subject, status=view.status, status_label=humanize(view.status),
        priority=view.priority, category=humanize(view.category), context=view.context_label,
        opened=day_time(view.created_at), assignee=view.assignee_name, tags=", ".join(view.tags),
        rating=view.rating or 0, rating_comment=view.rating_comment, merged_into=view.merged_into_number,
        can_reply=view.can_reply, can_reopen=view.can_reopen, can_rate=view.can_rate,
    )


class _Uploads:
    """Shared by the new-ticket form and the reply box: staged files, checked by the domain."""

    staged: list[FileRow]
    upload_error: str
    _staged_ids: list[int]

    async def _stage(self, files: list[Any]) -> None:
        principal = require_principal(current_principal())
        limit = get_settings().support_attachment_max_bytes
        errors: list[str] = []
        for f in list(files)[:10]:
            name = str(getattr(f, "filename", None) or getattr(f, "name", None) or "file")
            if len(self._staged_ids) >= get_settings().support_attachments_per_message:
                errors.append(SUPPORT_MESSAGES["too_many_files"])
                break
            data = await f.read(limit + 1)
            try:
                with session_scope() as db:
                    info = att.stage_attachment(db, principal=principal, filename=name, data=data)
            except DomainError as err:
                errors.append(f"{att.clean_filename(name)}: {support_message(err)}")
                continue
            self._staged_ids = [*self._staged_ids, info.id]
            self.staged = [*self.staged, FileRow(id=info.id, name=info.filename, size=size_text(info.size_bytes))]
        self.upload_error = " ".join(dict.fromkeys(errors))

    def _unstage(self, attachment_id: Any) -> None:
        if not isinstance(attachment_id, int) or attachment_id not in self._staged_ids:
            return
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                att.discard_staged(db, principal=principal, attachment_id=attachment_id)
        except DomainError:
            pass
        self._staged_ids = [i for i in self._staged_ids if i != attachment_id]
        self.staged = [f for f in self.staged if f.id != attachment_id]


def _text(value: Any, max_len: int) -> str:
    return value[:max_len] if isinstance(value, str) else ""


@access(Access.CUSTOMER)
class NewTicketState(rx.State):
    subject: str = ""
    body: str = ""
    category: str = "general"
    priority: str = "normal"
    tags: str = ""
    context_label: str = ""
    error: str = ""
    notice: str = ""
    suggestions: list[SuggestionRow] = []
    staged: list[FileRow] = []
    upload_error: str = ""
    submitting: bool = False
    _staged_ids: list[int] = []
    _context: tuple[str, int] | None = None
    _shown: list[int] = []
    _page_key: str = ""
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        forms.arrive(self)  # keeps what was typed on this page and not yet sent

    def _fresh(self) -> None:
        """A blank ticket, about what the address names (an order, a shipment...) if it is theirs."""
        self.reset()
        forms.mark_fresh(self)
        principal = require_principal(current_principal())
        params = self.router.url.query_parameters
        ctype, raw_id = params.get("context"), params.get("id")
        if isinstance(ctype, str) and ctype:
            try:
                cid = int(raw_id) if isinstance(raw_id, str) else -1
                with session_scope() as db:
                    self.context_label = support.context_label(db, principal=principal, context_type=ctype,
                                                               context_id=cid)
                self._context = (ctype, cid)
                self.category = {"order": "orders", "shipment": "shipping", "return": "returns",
                                 "invoice": "billing"}.get(ctype, "general")
            except (ValueError, DomainError):
                # Someone else's (or a made-up) order: say nothing about it, open a plain ticket.
                self.error = "We could not find what this ticket was about; you can still describe it below."

    def _suggest(self) -> None:
        text = f"{self.subject} {self.body}".strip()
        principal = require_principal(current_principal())
        with session_scope() as db:
            found = support.suggest_articles(db, principal=principal, text=text)
        self.suggestions = [SuggestionRow(id=s.id, title=s.title, summary=s.summary) for s in found]
        self._shown = list(dict.fromkeys([*self._shown, *(s.id for s in found)]))[-20:]

    @rx.event
    def update_subject(self, value: Any) -> None:
        forms.enter(self)
        self.subject = _text(value, support.SUBJECT_MAX)
        self._suggest()

    @rx.event
    def update_body(self, value: Any) -> None:
        forms.enter(self)
        self.body = _text(value, support.BODY_MAX)
        self._suggest()

    @rx.event
    def update_category(self, value: Any) -> None:
        forms.enter(self)
        if value in support.CATEGORIES:
            self.category = value

    @rx.event
    def update_priority(self, value: Any) -> None:
        forms.enter(self)
        if value in support.PRIORITIES:
            self.priority = value

    @rx.event
    def update_tags(self, value: Any) -> None:
        forms.enter(self)
        self.tags = _text(value, 250)

    @rx.event
    def solved_by(self, article_id: Any) -> None:
        """The customer says a suggested article answered their question."""
        if not isinstance(article_id, int) or article_id not in self._shown:
            return
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support.record_suggestion(db, principal=principal, article_id=article_id,
                                          query=f"{self.subject} {self.body}".strip(), solved=True)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.notice = "Glad that helped! You don't need to open a ticket; your draft is still here if you do."

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> None:
        forms.enter(self)
        await _Uploads._stage(self, files)  # type: ignore[arg-type]

    @rx.event
    def remove_file(self, attachment_id: Any) -> None:
        _Uploads._unstage(self, attachment_id)  # type: ignore[arg-type]

    @rx.event
    def submit(self) -> EventSpec | None:
        principal = require_principal(current_principal())
        forms.here(self)
        tags = [t for t in self.tags.split(",") if t.strip()]
        ctype, cid = self._context if self._context else (None, None)
        try:
            with session_scope() as db:
                ticket = support.create_ticket(
                    db, principal=principal, subject=self.subject, body=self.body, category=self.category,
                    priority=self.priority, tags=tags, context_type=ctype, context_id=cid,
                    attachment_ids=list(self._staged_ids), suggested_article_ids=[s.id for s in self.suggestions])
                ticket_id = ticket.id
        except DomainError as err:
            # Everything typed stays in the form.
            self.error = support_message(err)
            return None
        self.reset()
        return rx.redirect(f"/tickets/{ticket_id}")


@access(Access.CUSTOMER)
@listens(Topic.TICKETS)
class TicketListState(rx.State):
    loaded: bool = False
    open_rows: list[TicketListRow] = []
    resolved_rows: list[TicketListRow] = []

    @rx.event
    def load(self) -> None:
        self._load(require_principal(current_principal()))

    async def _on_live(self, _event: DomainEvent) -> None:
        principal = principal_from_state(self)
        if principal is not None and principal.is_customer:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        with session_scope() as db:
            opened = support.list_tickets(db, principal=principal, resolved=False)
            done = support.list_tickets(db, principal=principal, resolved=True)

        def row(t: Any) -> TicketListRow:
            return TicketListRow(id=t.id, number=t.number, subject=t.subject, status=t.status,
                                 status_label=humanize(t.status), priority=humanize(t.priority),
                                 updated=day(t.updated_at))

        self.open_rows = [row(t) for t in opened]
        self.resolved_rows = [row(t) for t in done]
        self.loaded = True


@access(Access.CUSTOMER)
@listens(Topic.TICKETS)
class TicketThreadState(rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    ticket: TicketHeader = TicketHeader()
    messages: list[MessageRow] = []
    draft: str = ""
    reply_error: str = ""
    staged: list[FileRow] = []
    upload_error: str = ""
    rating: int = 0
    rating_comment: str = ""
    _staged_ids: list[int] = []
    _ticket_id: int = 0
    _page_key: str = ""
    _dirty: bool = False

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # their unsent reply stays; the thread is read again
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
        if principal is not None and principal.is_customer:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        try:
            with session_scope() as db:
                view = support.get_ticket(db, principal=principal, ticket_id=self._ticket_id)
        except DomainError as err:
            self.error = support_message(err)
            self.ticket = TicketHeader()
            self.messages = []
            return
        self.ticket = header_of(view)
        self.messages = message_rows(self, view)
        self.loaded = True

    @rx.event
    def update_draft(self, value: Any) -> None:
        forms.enter(self)
        self.draft = _text(value, support.BODY_MAX)

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> None:
        forms.enter(self)
        await _Uploads._stage(self, files)  # type: ignore[arg-type]

    @rx.event
    def remove_file(self, attachment_id: Any) -> None:
        _Uploads._unstage(self, attachment_id)  # type: ignore[arg-type]

    @rx.event
    def send_reply(self) -> None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support.customer_reply(db, principal=principal, ticket_id=self._ticket_id, body=self.draft,
                                       attachment_ids=list(self._staged_ids))
        except DomainError as err:
            self.reply_error = support_message(err)
            return
        self.draft = ""
        self.reply_error = ""
        self.staged = []
        self._staged_ids, self._dirty = [], False
        self._load(principal)

    @rx.event
    def reopen(self) -> None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support.reopen_ticket(db, principal=principal, ticket_id=self._ticket_id)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.error = ""
        self._load(principal)

    @rx.event
    def update_rating(self, value: Any) -> None:
        try:
            stars = int(value)
        except (TypeError, ValueError):
            return
        if 1 <= stars <= 5:
            self.rating = stars

    @rx.event
    def update_rating_comment(self, value: Any) -> None:
        self.rating_comment = _text(value, 1000)

    @rx.event
    def rate(self) -> None:
        principal = require_principal(current_principal())
        try:
            with session_scope() as db:
                support.rate_ticket(db, principal=principal, ticket_id=self._ticket_id, rating=self.rating,
                                    comment=self.rating_comment)
        except DomainError as err:
            self.error = support_message(err)
            return
        self.error = ""
        self.notice = "Thank you for your rating."
        self._load(principal)
