from __future__ import annotations

from sqlmodel import Session, col, select

from portal.domain.notifications import notify_customer
from portal.models import MailMessage, Notification, NotificationKind, UserPreference
from tests.factories import make_customer


def test_everyone_on_the_account_is_notified_and_mailed_as_they_prefer(db: Session) -> None:
    user, customer = make_customer(db)
    db.add(UserPreference(user_id=user.id, email_shipping=False, email_support=True))
    db.commit()
    notify_customer(db, customer_id=customer.id, kind=NotificationKind.SHIPPING, title="Out for delivery",
                    link="/orders/1")
    notify_customer(db, customer_id=customer.id, kind=NotificationKind.SUPPORT, title="An agent replied",
                    body="We found your parcel.", link="/support/3")
    db.commit()
    titles = [n.title for n in db.exec(select(Notification).order_by(col(Notification.id))).all()]
    assert titles == ["Out for delivery", "An agent replied"]
    mails = db.exec(select(MailMessage)).all()
    assert [m.subject for m in mails] == ["An agent replied"]
    # Links in mail come from configuration, never from a request.
    assert "http://localhost:3000/support/3" in mails[0].body_text


def test_other_customers_hear_nothing(db: Session) -> None:
    _, a = make_customer(db)
    other, _ = make_customer(db)
    notify_customer(db, customer_id=a.id, kind=NotificationKind.BILLING, title="Invoice due")
    db.commit()
    assert db.exec(select(Notification).where(Notification.user_id == other.id)).all() == []
