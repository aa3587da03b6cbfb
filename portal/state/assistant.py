"""The assistant's chat panel. Only customers can talk to it; what it remembers stays on the server."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import assistant, kb
from portal.domain.errors import DomainError
from portal.i18n import N_, tr
from portal.state import tab
from portal.state.base import PortalState
from portal.state.guard import Access, access, current_principal
from portal.state.messages import message_for_error
from portal.state.session import backend_url

GREETING = N_("Hi! I can tell you where an order is, track a parcel, find an invoice or a help article, cancel, "
              "return or reschedule an order, or pass you to a person.")
# The same quick replies as the assistant's own (translated where shown; the patterns know them all).
STARTERS = list(assistant.SUGGESTIONS)


@dataclasses.dataclass
class ChatLink:
    label: str
    href: str
    kind: str = "page"  # "page", "file" (served by an api/ route) or "article" (a search result)


@dataclasses.dataclass
class ChatLine:
    who: str  # "customer" or "assistant"
    text: str
    links: list[ChatLink] = dataclasses.field(default_factory=list)


@access(Access.CUSTOMER)
class AssistantState(PortalState, rx.State):
    open: bool = False
    lines: list[ChatLine] = []
    choices: list[str] = []
    confirming: bool = False
    _convo: assistant.Conversation | None = None
    # Help articles this tab was shown, and the search that found them (for recording the click).
    _article_searches: dict[str, int] = {}

    @rx.event
    def toggle(self) -> None:
        self.open = not self.open
        if self.open and not self.lines:
            self.lines = [ChatLine(who="assistant", text=tr(GREETING))]
            self.choices = [tr(c) for c in STARTERS]

    @rx.event
    def send(self, form_data: dict | None = None) -> None:
        text = form_data.get("message") if isinstance(form_data, dict) else None
        if isinstance(text, str):
            self._say(text)

    @rx.event
    def choose(self, value: str) -> None:
        # A quick reply is the same as typing it; only the ones on offer are accepted.
        if isinstance(value, str) and value in self.choices:
            meant = next((s for s in STARTERS if tr(s) == value), value)
            self._say(value, meant=meant)

    def _say(self, raw: str, *, meant: str | None = None) -> None:
        shown = " ".join(raw.split())[: assistant.MAX_TEXT]
        text = " ".join(meant.split())[: assistant.MAX_TEXT] if meant else shown
        if not text:
            return
        principal = self._me()
        if self._convo is None:
            self._convo = assistant.Conversation()
        self._convo.page = tab.path(self)[:200]
        self.lines.append(ChatLine(who="customer", text=shown))
        llm = assistant.llm_client()
        try:
            with session_scope() as db:
                reply = assistant.respond(db, principal=principal, convo=self._convo, text=text, llm=llm)
        except DomainError as err:
            reply = assistant.Reply(message_for_error(err))
        finally:
            if llm is not None:
                llm.close()
        self.lines.append(ChatLine(who="assistant", text=reply.text,
                                   links=[self._chat_link(link) for link in reply.links]))
        self.lines = self.lines[-40:]
        self.choices = reply.choices
        self.confirming = reply.confirm

    def _chat_link(self, link: assistant.Link) -> ChatLink:
        if link.href.startswith("/api/"):
            return ChatLink(label=link.label, href=backend_url(self, link.href), kind="file")
        if link.query_id is not None:
            self._article_searches = {**dict(list(self._article_searches.items())[-30:]), link.href: link.query_id}
            return ChatLink(label=link.label, href=link.href, kind="article")
        return ChatLink(label=link.label, href=link.href)

    @rx.event
    def open_article(self, href: str) -> EventSpec | None:
        """Open a help article the assistant suggested, noting which suggestion was opened."""
        query_id = self._article_searches.get(href) if isinstance(href, str) else None
        if query_id is None:
            return None  # only articles this tab was shown
        slug = href.rstrip("/").rsplit("/", 1)[-1]
        with session_scope() as db:
            kb.record_click(db, principal=current_principal(), query_id=query_id, article_slug=slug)
        return rx.redirect(href)
