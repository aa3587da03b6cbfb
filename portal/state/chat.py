"""The customer's live chat panel, reachable from every page through the app shell."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import help_context, support_chat
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.format import day_time
from portal.i18n import tr
from portal.live.push import listens
from portal.state import help_about, tab
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, current_principal
from portal.state.support import support_message

# The pages whose subject a chat started there is about: a shipment, an order, an invoice.
_ABOUT_PAGES = re.compile(r"^/(?:shipments/([0-9]{1,12})|orders/([0-9]{1,12})|(?:billing/)?invoices/([0-9]{1,12}))/?$")
_ABOUT_KINDS = ("shipment", "order", "invoice")


@dataclasses.dataclass
class ChatBubble:
    id: int
    author: str
    author_kind: str
    body: str
    when: str


@access(Access.CUSTOMER)
@listens(Topic.CHAT, in_shell=True)
class ChatState(PortalState, rx.State):
    loaded: bool = False
    open: bool = False
    status: str = ""  # "", waiting, active, closed
    agent_name: str = ""
    ticket_number: str = ""
    ticket_id: int = 0
    bubbles: list[ChatBubble] = []
    draft: str = ""
    error: str = ""
    agent_typing: bool = False
    seen: bool = False
    unread: bool = False
    # What the chat would be about (the page's shipment, order, invoice, or the ticket form's
    # ?about=), resolved from the customer's own records; sent with the first message.
    about_label: str = ""
    _about: str = ""
    _about_text: str = ""
    _conversation_id: int = 0
    _typing_sent: bool = False

    def _message(self, err: DomainError) -> str:
        return support_message(err)

    @rx.event
    def toggle(self) -> None:
        self._opened(not self.open)

    @rx.event
    def update_open(self, value: Any) -> None:
        if isinstance(value, bool):
            self._opened(value)

    def _opened(self, value: bool) -> None:
        self.open = value
        if value:
            self.unread = False
            self._load(mark_read=True)
            self._pick_about()

    def _pick_about(self) -> None:
        """What the page the chat was opened on is about, if it is the customer's own."""
        self.about_label, self._about, self._about_text = "", "", ""
        if self.status in ("waiting", "active"):
            return  # an ongoing chat already has its context
        about = tab.query_parameters(self).get("about")
        m = _ABOUT_PAGES.match(tab.path(self) or "")
        if not isinstance(about, str) and m:
            about = next(f"{kind}:{ident}" for kind, ident in zip(_ABOUT_KINDS, m.groups(), strict=True) if ident)
        if not isinstance(about, str) or help_context.parse_about(about) is None:
            return
        try:
            with session_scope() as db:
                sit = help_context.resolve(db, principal=self._me(), about=about)
        except DomainError:
            return  # not theirs (or gone): the chat is about nothing in particular
        self.about_label, self._about = help_about.subject(sit), sit.about
        self._about_text = f"About: {help_about.subject(sit)}\n{help_about.facts(sit)}"

    @rx.event
    @on_loop
    def drop_about(self) -> None:
        self.about_label, self._about, self._about_text = "", "", ""

    def _live(self, batch: list[DomainEvent]) -> None:
        principal = current_principal()
        if principal is None or not principal.is_customer:
            return
        for ev in batch:
            if "typing" in ev.data:
                self.agent_typing = ev.data.get("typing") == "agent"
        if all(ev.data.get("read") or ev.data.get("typing") == "agent" for ev in batch):
            self._load(mark_read=False)
            return
        before = len(self.bubbles)
        self._load(mark_read=self.open)
        if not self.open and len(self.bubbles) > before:
            self.unread = True

    def _load(self, *, mark_read: bool) -> None:
        principal = self._me()
        with session_scope() as db:
            view = support_chat.current_chat(db, principal=principal)
            if view is not None and mark_read and view.status in ("waiting", "active"):
                support_chat.mark_read(db, principal=principal, conversation_id=view.id)
        self.loaded = True
        if view is None:
            self.status, self.bubbles, self._conversation_id = "", [], 0
            return
        self._conversation_id = view.id
        self.status = view.status
        self.agent_name = view.agent_name
        self.ticket_number, self.ticket_id = view.ticket_number, view.ticket_id or 0
        self.bubbles = [ChatBubble(id=m.id, author=tr("You") if m.author_kind == "customer" else m.author_name,
                                   author_kind=m.author_kind, body=m.body, when=day_time(m.created_at))
                        for m in view.messages]
        last_mine = max((m.created_at for m in view.messages if m.author_kind == "customer"), default=None)
        self.seen = bool(last_mine and view.agent_last_read_at and view.agent_last_read_at >= last_mine)

    @rx.event
    def update_draft(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        self.draft = value[: support_chat.BODY_MAX]
        typing_now = bool(self.draft.strip())
        if typing_now != self._typing_sent and self._conversation_id and self.status in ("waiting", "active"):
            self._typing_sent = typing_now
            try:
                with session_scope() as db:
                    support_chat.typing(db, principal=self._me(), conversation_id=self._conversation_id,
                                        active=typing_now)
            except DomainError:
                pass

    @rx.event
    def send(self) -> None:
        page = tab.path(self) or ""
        sent: object
        if self._conversation_id and self.status in ("waiting", "active"):
            sent = self._call(support_chat.send_customer_message, conversation_id=self._conversation_id,
                              body=self.draft)
        else:
            sent = self._call(support_chat.start_chat, body=self.draft, page=page, about=self._about,
                              about_text=self._about_text)
        if sent is FAILED:
            return  # the draft stays, so nothing typed is lost
        self.error = ""
        self.draft = ""
        self._typing_sent = False
        self.about_label, self._about, self._about_text = "", "", ""
        self._load(mark_read=False)

    @rx.event
    @on_loop
    def new_chat(self) -> None:
        """After a chat ended, start over with an empty panel."""
        self.status = ""
        self.bubbles = []
        self._conversation_id = 0
        self.ticket_number = ""
