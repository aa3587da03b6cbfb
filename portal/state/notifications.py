"""The bell in the header and the notification center page."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import inbox
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day_time, humanize
from portal.live.push import listens
from portal.models import NotificationPublic
from portal.state.guard import Access, access, current_principal, mfa_setup_exempt, principal_from_state
from portal.state.messages import message_for_error

KIND_ICONS = {"shipping": "truck", "support": "life_buoy", "billing": "receipt", "offers": "gift",
              "documents": "file_text", "account": "user"}


@dataclasses.dataclass
class NotificationRow:
    id: int
    kind: str
    kind_label: str
    icon: str
    title: str
    body: str
    link: str
    read: bool
    when: str


def note_row(n: NotificationPublic) -> NotificationRow:
    return NotificationRow(id=n.id, kind=n.kind, kind_label=humanize(n.kind), icon=KIND_ICONS.get(n.kind, "bell"),
                           title=n.title, body=n.body, link=n.link, read=n.read, when=day_time(n.created_at))


# In the header of every page, also the MFA setup page a redirect must not loop on.
@mfa_setup_exempt
@access(Access.SIGNED_IN)
@listens(Topic.NOTIFICATIONS)
class NotificationState(rx.State):
    loaded: bool = False
    unread: int = 0
    items: list[NotificationRow] = []
    error: str = ""

    @rx.var
    def badge(self) -> str:
        return "99+" if self.unread > 99 else str(self.unread)

    @rx.event
    def load(self) -> None:
        self._load(require_principal(current_principal()))

    async def _on_live(self, _event: DomainEvent) -> None:
        principal = principal_from_state(self)
        if principal is not None:
            self._load(principal)

    def _load(self, principal: Principal) -> None:
        with session_scope() as db:
            self.unread = inbox.unread_count(db, principal=principal)
            self.items = [note_row(n) for n in inbox.list_notifications(db, principal=principal, limit=30)]
        self.loaded = True

    @rx.event
    def mark_read(self, notification_id: int) -> None:
        if not isinstance(notification_id, int) or isinstance(notification_id, bool):
            return
        p = require_principal(current_principal())
        try:
            with session_scope() as db:
                inbox.mark_read(db, principal=p, notification_id=notification_id)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self.error = ""
        self._load(p)

    @rx.event
    def open_notification(self, notification_id: int) -> EventSpec | None:
        """Mark it read and go where it points (a path inside the portal, checked by the domain)."""
        if not isinstance(notification_id, int) or isinstance(notification_id, bool):
            return None
        p = require_principal(current_principal())
        try:
            with session_scope() as db:
                note = inbox.mark_read(db, principal=p, notification_id=notification_id)
        except DomainError as err:
            self.error = message_for_error(err)
            return None
        self._load(p)
        return rx.redirect(note.link) if note.link else None

    @rx.event
    def mark_all_read(self) -> None:
        p = require_principal(current_principal())
        with session_scope() as db:
            inbox.mark_all_read(db, principal=p)
        self._load(p)
