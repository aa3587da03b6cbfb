"""Tell people about things: in the portal always, by email when their preferences say so."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.domain import events
from portal.domain.events import DomainEvent, Topic
from portal.domain.mail import queue_mail
from portal.models import Notification, NotificationKind, User, UserPreference

_EMAIL_PREFERENCE = {
    NotificationKind.SHIPPING: "email_shipping",
    NotificationKind.SUPPORT: "email_support",
    NotificationKind.BILLING: "email_billing",
    NotificationKind.OFFERS: "email_offers",
}


def wants_email(session: Session, *, user_id: int, kind: str) -> bool:
    field = _EMAIL_PREFERENCE.get(kind)  # type: ignore[call-overload]
    if field is None:
        return kind in (NotificationKind.ACCOUNT, NotificationKind.DOCUMENTS)
    pref = session.get(UserPreference, user_id)
    return True if pref is None else bool(getattr(pref, field))


def notify_customer(session: Session, *, customer_id: int, kind: str, title: str, body: str = "",
                    link: str = "") -> list[Notification]:
    """Every active user of the customer account gets the notification (and maybe an email)."""
    users = session.exec(select(User).where(User.customer_id == customer_id, User.is_active == True)).all()  # noqa: E712
    out = [notify_user(session, user=u, kind=kind, title=title, body=body, link=link, announce=False) for u in users]
    events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, customer_id=customer_id))
    return out


def notify_user(session: Session, *, user: User, kind: str, title: str, body: str = "", link: str = "",
                announce: bool = True) -> Notification:
    assert user.id is not None
    note = Notification(user_id=user.id, kind=kind, title=title[:200], body=body[:1000], link=link[:300])
    session.add(note)
    if wants_email(session, user_id=user.id, kind=kind):
        queue_mail(session, to=user.email, subject=title, body=_email_body(body, link), kind=kind, user_id=user.id)
    if announce:
        events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, user_ids=(user.id,)))
    return note


def _email_body(body: str, link: str) -> str:
    from portal.settings import get_settings

    s = get_settings()
    parts = [body] if body else []
    if link:
        # Links are built from configuration, never from a request's Host header.
        parts.append(f"{s.portal_public_url.rstrip('/')}{link}")
    parts.append(f"— {s.portal_business_name}")
    return "\n\n".join(parts)
