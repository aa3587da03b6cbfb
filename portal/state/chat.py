"""The customer's live chat panel, reachable from every page through the app shell."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import support_chat
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day_time
from portal.live.push import listens
from portal.state.guard import Access, access, current_principal, principal_from_state
from portal.state.support import support_message


@dataclasses.dataclass
class ChatBubble:
    id: int
    author: str
    author_kind: str
    body: str
    when: str


@access(Access.CUSTOMER)
@listens(Topic.CHAT)
class ChatState(rx.State):
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
    _conversation_id: int = 0
    _typing_sent: bool = False

    @rx.event
    def toggle(self) -> None:
        self.open = not self.open
        if self.open:
            self.unread = False
            self._load(require_principal(current_principal()), mark_read=True)

    @rx.event
    def update_open(self, value: Any) -> None:
        if isinstance(value, bool):
            self.open = value
            if value:
                self.unread = False
                self._load(require_principal(current_principal()), mark_read=True)

    async def _on_live(self, event: DomainEvent) -> None:
        principal = principal_from_state(self)
        if principal is None or not principal.is_customer:
            return
        if "typing" in event.data:
            self.agent_typing = event.data.get("typing") == "agent"
        if event.data.get("read") or event.data.get("typing") == "agent":
            self._load(principal, mark_read=False)
            return
        before = len(self.bubbles)
        self._load(principal, mark_read=self.open)
        if not self.open and len(self.bubbles) > before:
            self.unread = True

    def _load(self, principal: Principal, *, mark_read: bool) -> None:
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
        self.bubbles = [ChatBubble(id=m.id, author="You" if m.author_kind == "customer" else m.author_name,
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
                    support_chat.typing(db, principal=require_principal(current_principal()),
                                        conversation_id=self._conversation_id, active=typing_now)
            except DomainError:
                pass

    @rx.event
    def send(self) -> None:
        principal = require_principal(current_principal())
        page = self.router.url.path or ""
        try:
            with session_scope() as db:
                if self._conversation_id and self.status in ("waiting", "active"):
                    support_chat.send_customer_message(db, principal=principal,
                                                       conversation_id=self._conversation_id, body=self.draft)
                else:
                    support_chat.start_chat(db, principal=principal, body=self.draft, page=page)
        except DomainError as err:
            # The draft stays, so nothing typed is lost.
            self.error = support_message(err)
            return
        self.error = ""
        self.draft = ""
        self._typing_sent = False
        self._load(principal, mark_read=False)

    @rx.event
    def new_chat(self) -> None:
        """After a chat ended, start over with an empty panel."""
        self.status = ""
        self.bubbles = []
        self._conversation_id = 0
        self.ticket_number = ""
