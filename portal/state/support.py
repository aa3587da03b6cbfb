"""Customers' support: open a ticket (with help-article suggestions), follow and answer it.

Ids that come from the browser (URL, buttons) are never trusted: the domain checks that
they belong to the signed-in customer, and answers "not found" otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import attachments as att
from portal.domain import help_context, support
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal
from portal.format import day, day_time, humanize
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.live.runtime import offload
from portal.settings import get_settings
from portal.state import forms, help_about, tab
from portal.state.base import FAILED, PortalState
from portal.state.guard import Access, access, current_principal
from portal.state.insights import TrackState
from portal.state.messages import message_for
from portal.state.session import backend_url

# How ticket statuses, priorities and categories are shown (humanize(value), translated with `label`).
TICKET_LABELS: dict[str, str] = {
    "new": N_("New"), "open": N_("Open"), "pending": N_("Pending"), "resolved": N_("Resolved"), "closed": N_("Closed"),
    "low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent"),
    **support.CATEGORY_LABELS,
}


def label(value: str) -> str:
    """A ticket status, priority or category as shown, in the reader's language."""
    return tr(TICKET_LABELS.get(value, humanize(value)))


# Wording for the support area's error details (the domain only gives codes).
SUPPORT_MESSAGES: dict[str, str] = {
    "empty": N_("Write a message first."),
    "rate": N_("You are sending a lot in a short time. Please wait a minute and try again; what you wrote is kept."),
    "too_long": N_("That is too long. Please shorten it."),
    "category": N_("Choose one of the categories."),
    "priority": N_("Choose one of the priorities."),
    "too_many_tags": N_("Use at most 5 tags."),
    "rating": N_("Choose a rating from 1 to 5 stars."),
    "empty_file": N_("That file is empty."),
    "too_large": N_("That file is too large."),
    "file_type": N_("We accept pictures (PNG, JPEG, GIF, WebP), PDF and plain-text files, "
                 "and the file must really be of the type its name says."),
    "too_many_files": N_("Attach at most 5 files to one message."),
    "ticket_closed": N_("This ticket is closed, so it can no longer be answered. Open a new ticket instead."),
    "reopen_window": N_("This ticket can no longer be reopened. Please open a new ticket."),
    "not_rateable": N_("This ticket cannot be rated (now)."),
    "merge_self": N_("Choose a different ticket to merge into."),
    "merge_other_customer": N_("Only tickets of the same customer can be merged."),
    "already_merged": N_("One of these tickets was already merged."),
    "chat_closed": N_("This chat has ended."),
    "chat_not_yours": N_("This chat is handled by another agent."),
    "chat_taken": N_("Another agent already took this chat."),
    "unknown_customer": N_("Customer number: no open customer account has that number (for example C-10001)."),
    "not_a_guest": N_("This ticket already belongs to a customer account."),
}


def support_message(err: DomainError) -> str:
    if err.detail == "empty" and err.data.get("field") == "subject":
        return tr("Give your ticket a subject.")
    if err.detail == "empty" and err.data.get("field") == "customer":
        return tr("Customer number: type the number of the account to link this contact to.")
    if err.detail in SUPPORT_MESSAGES:
        return tr(SUPPORT_MESSAGES[err.detail])
    if err.code == "not_found" and err.detail == "attachment":
        return tr("That file is no longer available. Attach it again.")
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
    via_email: bool = False
    undelivered: bool = False


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
                                  url=backend_url(state, f"/api/support/attachments/{f.id}?download=1"))
                          for f in m.attachments], via_email=m.via_email,
                   undelivered=m.delivery_status == "undelivered")
        for m in view.messages
    ]


def header_of(view: support.TicketView) -> TicketHeader:
    return TicketHeader(
        number=view.number, subject=view.subject, status=view.status, status_label=label(view.status),
        priority=view.priority, category=label(view.category), context=view.context_label,
        opened=day_time(view.created_at), assignee=view.assignee_name, tags=", ".join(view.tags),
        rating=view.rating or 0, rating_comment=view.rating_comment, merged_into=view.merged_into_number,
        can_reply=view.can_reply, can_reopen=view.can_reopen, can_rate=view.can_rate,
    )


class _Uploads:
    """Shared by the new-ticket form and the reply box: staged files, checked by the domain."""

    staged: list[FileRow]
    upload_error: str
    _staged_ids: list[int]
    _me: Callable[[], Principal]  # the PortalState's

    async def _stage(self, files: list[Any]) -> None:
        limit = get_settings().support_attachment_max_bytes
        received = [(str(getattr(f, "filename", None) or getattr(f, "name", None) or "file"), await f.read(limit + 1))
                    for f in list(files)[:10]]
        await offload(_Uploads._stage_received, self, received)

    def _stage_received(self, received: list[tuple[str, bytes]]) -> None:
        principal = self._me()
        errors: list[str] = []
        for name, data in received:
            if len(self._staged_ids) >= get_settings().support_attachments_per_message:
                errors.append(tr(SUPPORT_MESSAGES["too_many_files"]))
                break
            try:
                with session_scope() as db:
                    info = att.stage_attachment(db, principal=principal, filename=name, data=data)
            except DomainError as err:
                errors.append(tr("{label}: {value}", label=att.clean_filename(name), value=support_message(err)))
                continue
            self._staged_ids = [*self._staged_ids, info.id]
            self.staged = [*self.staged, FileRow(id=info.id, name=info.filename, size=size_text(info.size_bytes))]
        self.upload_error = " ".join(dict.fromkeys(errors))

    def _unstage(self, attachment_id: Any) -> None:
        if not isinstance(attachment_id, int) or attachment_id not in self._staged_ids:
            return
        principal = self._me()
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
class NewTicketState(PortalState, rx.State):
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
    _situation: str = ""
    _shown: list[int] = []
    _page_key: str = ""
    form_path: str = ""  # the path whose contents this holds (portal.state.forms)
    _dirty: bool = False

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def load(self) -> None:
        forms.arrive(self)  # keeps what was typed on this page and not yet sent

    def _fresh(self) -> None:
        """A blank ticket, or one about what the address names (?about=shipment:12), pre-filled
        from the customer's own records when it is theirs; the address only ever names it."""
        self.reset()
        forms.mark_fresh(self)
        params = tab.query_parameters(self)
        about = params.get("about")
        if about is None and isinstance(params.get("context"), str):
            about = f"{params.get('context')}:{params.get('id')}"  # the older form of the same link
        if not about:
            return
        principal = self._me()
        try:
            with session_scope() as db:
                sit = help_context.resolve(db, principal=principal, about=str(about))
                self.context_label = support.context_label(db, principal=principal, context_type=sit.context_type,
                                                           context_id=sit.context_id)
                first = support.situation_suggestions(db, principal=principal, code=sit.code)
        except DomainError:
            # Someone else's (or a made-up) reference: say nothing about it, fill in nothing.
            self.error = tr("We could not find what this ticket was about; you can still describe it below.")
            return
        self._context = (sit.context_type, sit.context_id)
        self.subject, self.body = help_about.subject(sit)[: support.SUBJECT_MAX], help_about.body(sit)
        self.category, self.priority = sit.category, sit.priority
        self._situation = sit.code
        self._show_suggestions(first)

    def _show_suggestions(self, found: list[support.Suggestion]) -> None:
        self.suggestions = [SuggestionRow(id=s.id, title=s.title, summary=s.summary) for s in found]
        self._shown = list(dict.fromkeys([*self._shown, *(s.id for s in found)]))[-20:]

    def _suggest(self) -> None:
        text = f"{self.subject} {self.body}".strip()
        principal = self._me()
        with session_scope() as db:
            found = support.suggest_articles(db, principal=principal, text=text)
            if self._situation:
                # What answers the situation comes first, then what answers their words.
                first = support.situation_suggestions(db, principal=principal, code=self._situation)
                found = [*first, *(f for f in found if f.id not in {a.id for a in first})][:5]
        self._show_suggestions(found)

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
        if self._call(support.record_suggestion, article_id=article_id,
                      query=f"{self.subject} {self.body}".strip(), solved=True) is FAILED:
            return
        self.notice = tr("Glad that helped! You don't need to open a ticket; your draft is still here if you do.")

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]) -> None:
        forms.enter(self)
        await _Uploads._stage(self, files)  # type: ignore[arg-type]

    @rx.event
    def remove_file(self, attachment_id: Any) -> None:
        _Uploads._unstage(self, attachment_id)  # type: ignore[arg-type]

    @rx.event
    def submit(self) -> list[EventSpec] | None:
        forms.here(self)
        tags = [t for t in self.tags.split(",") if t.strip()]
        ctype, cid = self._context if self._context else (None, None)
        ticket = self._call(
            support.create_ticket, subject=self.subject, body=self.body, category=self.category,
            priority=self.priority, tags=tags, context_type=ctype, context_id=cid,
            attachment_ids=list(self._staged_ids), suggested_article_ids=[s.id for s in self.suggestions])
        if ticket is FAILED:
            return None  # everything typed stays in the form
        ticket_id = ticket.id
        self.reset()
        # Sent: the form is no longer "abandoned" in the insights.
        sent = TrackState.form_submit("ticket")  # type: ignore[operator]  # an EventSpec at runtime
        return [sent, rx.redirect(f"/tickets/{ticket_id}")]


@access(Access.CUSTOMER)
@listens(Topic.TICKETS)
class TicketListState(PortalState, rx.State):
    loaded: bool = False
    open_rows: list[TicketListRow] = []
    resolved_rows: list[TicketListRow] = []

    @rx.event
    def load(self) -> None:
        self._reload()

    def _reload(self) -> None:
        principal = self._me()
        with session_scope() as db:
            opened = support.list_tickets(db, principal=principal, resolved=False)
            done = support.list_tickets(db, principal=principal, resolved=True)

        def row(t: Any) -> TicketListRow:
            return TicketListRow(id=t.id, number=t.number, subject=t.subject, status=t.status,
                                 status_label=label(t.status), priority=label(t.priority),
                                 updated=day(t.updated_at))

        self.open_rows = [row(t) for t in opened]
        self.resolved_rows = [row(t) for t in done]
        self.loaded = True


@access(Access.CUSTOMER)
@listens(Topic.TICKETS)
class TicketThreadState(PortalState, rx.State):
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
    form_path: str = ""  # the path whose contents this holds (portal.state.forms)
    _dirty: bool = False

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def load(self) -> None:
        if forms.arrive(self):  # their unsent reply stays; the thread is read again
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
        if principal is not None and principal.is_customer:
            self._reload()

    def _reload(self) -> None:
        view = self._call(support.get_ticket, ticket_id=self._ticket_id)
        if view is FAILED:
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
        if self._call(support.customer_reply, into="reply_error", ticket_id=self._ticket_id, body=self.draft,
                      attachment_ids=list(self._staged_ids)) is FAILED:
            return
        self.draft = ""
        self.reply_error = ""
        self.staged = []
        self._staged_ids, self._dirty = [], False
        self._reload()

    @rx.event
    def reopen(self) -> None:
        if self._call(support.reopen_ticket, ticket_id=self._ticket_id) is FAILED:
            return
        self.error = ""
        self._reload()

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
        if self._call(support.rate_ticket, ticket_id=self._ticket_id, rating=self.rating,
                      comment=self.rating_comment) is FAILED:
            return
        self.error = ""
        self.notice = tr("Thank you for your rating.")
        self._reload()
