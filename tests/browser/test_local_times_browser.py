"""A customer in Paris sees the portal's times in Paris time, not the server's UTC."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from portal import format as fmt
from portal.models import Notification, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


def test_notification_times_are_in_the_customers_zone(page: Any, demo: Any, db: Session) -> None:
    chloe = db.exec(select(User).where(User.email == "chloe@example.com")).one()
    assert chloe.timezone == "Europe/Paris"
    note = db.exec(select(Notification).where(Notification.user_id == chloe.id)
                   .order_by(col(Notification.created_at).desc())).first()
    assert note is not None
    paris, utc = fmt.day_time(note.created_at, ZoneInfo("Europe/Paris")), fmt.day_time(note.created_at, ZoneInfo("UTC"))
    assert paris != utc  # an hour apart in November
    sign_in(page, "chloe@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/notifications")
    item = page.get_by_test_id("notification-item").filter(has_text=note.title).first
    item.get_by_text(paris).wait_for()
    assert utc not in item.inner_text()
