"""Tell people about things: in the portal always, by email when their preferences say so."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from portal.domain import events
from portal.domain.events import DomainEvent, Topic
from portal.domain.mail import queue_mail
from portal.i18n import in_language, tr
from portal.models import Notification, NotificationKind, User, UserPreference

_EMAIL_PREFERENCE = {
    NotificationKind.SHIPPING: "email_shipping",
    NotificationKind.SUPPORT: "email_support",
    NotificationKind.BILLING: "email_billing",
    NotificationKind.OFFERS: "email_offers",
}


# A notification's title or body: a finished text, or a function that words it (with `tr`) and is
# called once per recipient in the recipient's own language (each person reads it in theirs).
Text = str | Callable[[], str]


def _words(text: Text) -> str:
    return text() if callable(text) else text


def wants_email(session: Session, *, user_id: int, kind: str) -> bool:
    field = _EMAIL_PREFERENCE.get(kind)  # type: ignore[call-overload]
    if field is None:
        return kind in (NotificationKind.ACCOUNT, NotificationKind.DOCUMENTS)
    pref = session.get(UserPreference, user_id)
    return True if pref is None else bool(getattr(pref, field))


def notify_customer(session: Session, *, customer_id: int, kind: str, title: Text, body: Text = "",
                    link: str = "", help_link: str = "", email: bool = True) -> list[Notification]:
    """Every active user of the customer account gets the notification (and maybe an email;
    `email=False` when the news already goes out by mail of its own, such as a threaded ticket reply)."""
    users = session.exec(select(User).where(User.customer_id == customer_id, User.is_active == True)).all()  # noqa: E712
    out = [notify_user(session, user=u, kind=kind, title=title, body=body, link=link, help_link=help_link,
                       announce=False, email=email) for u in users]
    events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, customer_id=customer_id))
    return out


def notify_user(session: Session, *, user: User, kind: str, title: Text, body: Text = "", link: str = "",
                help_link: str = "", announce: bool = True, email: bool = True) -> Notification:
    """The notification is stored (and mailed) in the recipient's language, worded now for them."""
    assert user.id is not None
    with in_language(user.locale):
        title_text, body_text = _words(title), _words(body)
        note = Notification(user_id=user.id, kind=kind, title=title_text[:200], body=body_text[:1000],
                            link=link[:300], help_link=help_link[:300])
        session.add(note)
        if email and wants_email(session, user_id=user.id, kind=kind):
            queue_mail(session, to=user.email, subject=title_text, body=_email_body(body_text, link, help_link),
                       kind=kind, user_id=user.id)
    if announce:
        events.emit(session, DomainEvent(topic=Topic.NOTIFICATIONS, user_ids=(user.id,)))
    return note


def _email_body(body: str, link: str, help_link: str = "") -> str:
    from portal.settings import get_settings

    s = get_settings()
    parts = [body] if body else []
    if link:
        # Links are built from configuration, never from a request's Host header.
        parts.append(f"{s.portal_public_url.rstrip('/')}{link}")
    if help_link:
        parts.append(tr("Get help with this: {link}", link=f"{s.portal_public_url.rstrip('/')}{help_link}"))
    parts.append(f"— {s.portal_business_name}")
    return "\n\n".join(parts)
