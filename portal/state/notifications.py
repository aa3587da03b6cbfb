"""The bell in the header and the notification center page."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.domain import inbox
from portal.domain.events import DomainEvent, Topic
from portal.format import day_time, humanize
from portal.i18n import N_, tr, tr_n
from portal.jobs import analytics
from portal.live.push import listens
from portal.models import NotificationPublic
from portal.state import tab
from portal.state.base import FAILED, PortalState, loop_first
from portal.state.guard import Access, access, mfa_setup_exempt
from portal.state.insights import counted

# humanize(kind), as shown on a notification (translated with tr where shown).
KIND_LABELS = {"shipping": N_("Shipping"), "support": N_("Support"), "billing": N_("Billing"), "offers": N_("Offers"),
               "documents": N_("Documents"), "account": N_("Account")}
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
    help_link: str
    read: bool
    when: str


def note_row(n: NotificationPublic) -> NotificationRow:
    return NotificationRow(id=n.id, kind=n.kind, kind_label=tr(KIND_LABELS.get(n.kind, humanize(n.kind))),
                           icon=KIND_ICONS.get(n.kind, "bell"),
                           title=n.title, body=n.body, link=n.link, help_link=n.help_link, read=n.read,
                           when=day_time(n.created_at))


# In the header of every page, also the MFA setup page a redirect must not loop on.
@mfa_setup_exempt
@access(Access.SIGNED_IN)
@listens(Topic.NOTIFICATIONS, in_shell=True)
class NotificationState(PortalState, rx.State):
    loaded: bool = False
    unread: int = 0
    items: list[NotificationRow] = []
    error: str = ""
    # What a screen reader says when a notification arrives (a polite live region in the header):
    # only pushed ones, never those already there when the page loaded.
    announce: str = ""

    @rx.var
    def badge(self) -> str:
        return "99+" if self.unread > 99 else str(self.unread)

    _window: float = 0.0
    _in_window: int = 0
    # The page this tab last arrived on, and when (state/arrival.py).
    _arrived_page: str = ""
    _arrived_at: float = 0.0

    @rx.event
    @loop_first
    def load(self) -> None:
        self._reload()

    def _arrive(self, *, fresh: bool, page_view: bool) -> None:
        """What the shell needs when the tab arrives on a page (see state/arrival.py): the bell's
        count and list (kept live by the push once loaded; read again on a fresh connection)
        and the page view for insights (the route pattern only, see state/insights.py).
        Reads first, so that starting again in the pool (`loop_first`) records nothing twice."""
        if fresh or not self.loaded:
            self._reload()
        if page_view and counted(self):
            analytics.note(self._me(), "page_view", (tab.route_id(self) or "/")[:200])

    def _live(self, batch: list[DomainEvent]) -> None:
        known = {n.id for n in self.items}
        self._reload()
        fresh = [n for n in self.items if n.id not in known and not n.read]
        if fresh:
            self.announce = tr_n("New notification: {title}", "{n} new notifications, the latest: {title}",
                                 len(fresh), title=fresh[0].title)

    def _reload(self) -> None:
        unread = self._view("bell.unread", None, (Topic.NOTIFICATIONS,), inbox.unread_count)
        items = self._view("bell.items", 30, (Topic.NOTIFICATIONS,), inbox.list_notifications, limit=30)
        self._set(unread=unread, items=[note_row(n) for n in items], loaded=True)

    @rx.event
    def mark_read(self, notification_id: int) -> None:
        if not isinstance(notification_id, int) or isinstance(notification_id, bool):
            return
        if self._call(inbox.mark_read, notification_id=notification_id) is FAILED:
            return
        self.error = ""
        self._reload()

    @rx.event
    def open_notification(self, notification_id: int) -> EventSpec | None:
        """Mark it read and go where it points (a path inside the portal, checked by the domain)."""
        if not isinstance(notification_id, int) or isinstance(notification_id, bool):
            return None
        note = self._call(inbox.mark_read, notification_id=notification_id)
        if note is FAILED:
            return None
        self._reload()
        return rx.redirect(note.link) if note.link else None

    @rx.event
    def mark_all_read(self) -> None:
        self._call(inbox.mark_all_read)
        self._reload()
