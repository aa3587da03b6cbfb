"""Factories for the home area: notifications, addresses."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from portal.models import Address, Customer, Notification, User

ADDRESS: dict[str, str] = {"label": "Home", "name": "Ann Example", "line1": "1 High Street", "city": "Leeds",
                           "postal_code": "LS1 1AA", "country": "GB"}


def make_notification(db: Session, user: User, *, title: str = "Your parcel is on its way", kind: str = "shipping",
                      link: str = "/dashboard", **fields: Any) -> Notification:
    note = Notification(user_id=user.id or 0, kind=kind, title=title, link=link, **fields)
    db.add(note)
    db.commit()
    return note


def make_address(db: Session, customer: Customer, **fields: Any) -> Address:
    address = Address.model_validate({**ADDRESS, "customer_id": customer.id, **fields})
    db.add(address)
    db.commit()
    return address
