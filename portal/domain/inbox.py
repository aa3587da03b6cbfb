"""The notification center: a person's own notifications, read and marked read.

Notifications belong to a user (not to the customer account): every query is scoped to the
principal's user id, so someone else's notification is "not found".
"""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import events
from portal.domain.errors import NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.models import Notification, NotificationPublic


def _public(n: Notification) -> NotificationPublic:
    return NotificationPublic(id=n.id or 0, kind=n.kind, title=n.title, body=n.body, link=_safe_link(n.link),
                              help_link=_safe_link(n.help_link), read=n.read_at is not None, created_at=n.created_at)


def _safe_link(link: str) -> str:
    # Only paths inside the portal: a notification never sends anyone to another site.
    return link if link.startswith("/") and not link.startswith("//") and "\\" not in link else ""


def list_notifications(session: Session, *, principal: Principal, limit: int = 20,
                       unread_only: bool = False) -> list[NotificationPublic]:
    p = require_principal(principal)
    q = select(Notification).where(Notification.user_id == p.user_id)
    if unread_only:
        q = q.where(col(Notification.read_at).is_(None))
    rows = session.exec(q.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
                        .limit(max(1, min(limit, 100)))).all()
    return [_public(n) for n in rows]


def unread_count(session: Session, *, principal: Principal) -> int:
    p = require_principal(principal)
    return int(session.exec(select(func.count()).select_from(Notification)
                            .where(Notification.user_id == p.user_id, col(Notification.read_at).is_(None))).one())


def mark_read(session: Session, *, principal: Principal, notification_id: int) -> NotificationPublic:
    p = require_principal(principal)
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != p.user_id:
        raise NotFound("notification")
    if note.read_at is None:
        note.read_at = utcnow()
        session.add(note)
        events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, user_ids=(p.user_id,)))
    return _public(note)


def mark_all_read(session: Session, *, principal: Principal) -> int:
    p = require_principal(principal)
    result = session.exec(  # type: ignore[call-overload]
        update(Notification).where(col(Notification.user_id) == p.user_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    changed = int(result.rowcount or 0)
    if changed:
        events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, user_ids=(p.user_id,)))
    return changed
