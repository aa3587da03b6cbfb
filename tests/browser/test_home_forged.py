"""Forged websocket events against the home area: customer B sends A's notification,
address and offer ids and widget settings, and gets nothing of A's, nor changes it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.domain import home, offers
from portal.models import Address, CustomerOffer, Notification, UserPreference
from portal.models.base import Role
from portal.state.dashboard import DashboardState
from portal.state.notifications import NotificationState
from portal.state.offers import OfferRulesState, OffersState
from portal.state.profile import ProfileState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_home import make_address, make_notification
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


async def _send_all(backend_url: str, cookie: str, calls: list[tuple[Any, dict[str, Any], str]]) -> str:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out = []
        for handler, payload, path in calls:
            out += await c.send(handler_name(handler), payload, path=path)
        return deltas_text(out)


def test_customer_b_forging_customer_as_ids_reads_and_changes_nothing(db: Session, harness: Any,
                                                                        backend_url: str) -> None:
    # Given Ann's notification, address, offer and dashboard layout
    ua, ca = make_customer(db, name="Ann", country="GB")
    ub, _ = make_customer(db, name="Bob", country="FR")
    note = make_notification(db, ua, title="Ann's private parcel note")
    address = make_address(db, ca, line1="9 Hidden Orchard Lane")
    admin = make_staff(db, role=Role.ADMIN)
    offers.save_rule(db, principal=principal_for(admin), rule_id=None,
                     data={"kind": "region", "countries": "GB", "title": "Ann-only region gift", "reward_cents": "700"})
    db.commit()
    offer = offers.offers_for(db, principal=principal_for(ua))[0]
    ann_layout = [{"kind": "help", "size": "lg", "options": {"limit": 2}}]
    home.save_layout(db, principal=principal_for(ua), layout=ann_layout)
    db.commit()

    # When Bob sends every home handler with Ann's ids
    calls: list[tuple[Any, dict[str, Any], str]] = [
        (NotificationState.mark_read, {"notification_id": note.id}, "/notifications"),
        (NotificationState.open_notification, {"notification_id": note.id}, "/notifications"),
        (NotificationState.mark_all_read, {}, "/notifications"),
        (NotificationState.load, {}, "/notifications"),
        (ProfileState.edit_address, {"address_id": address.id}, "/account/profile"),
        (ProfileState.save_address, {"form": {"name": "Bob", "line1": "Stolen", "city": "X", "postal_code": "123",
                                              "country": "FR"}}, "/account/profile"),
        (ProfileState.make_default, {"address_id": address.id, "purpose": "billing"}, "/account/profile"),
        (ProfileState.delete_address, {"address_id": address.id}, "/account/profile"),
        (ProfileState.load, {}, "/account/profile"),
        (OffersState.apply, {"offer_id": offer.id}, "/offers"),
        (OffersState.dismiss, {"offer_id": offer.id}, "/offers"),
        (OffersState.load, {}, "/offers"),
        (DashboardState.add_widget, {"kind": "bitcoin_miner"}, "/dashboard"),
        (DashboardState.move_widget, {"kind": "help", "delta": 1}, "/dashboard"),
        (DashboardState.resize_widget, {"kind": "help", "size": "sm"}, "/dashboard"),
        (DashboardState.set_limit, {"kind": "help", "limit": "9999"}, "/dashboard"),
        (DashboardState.load, {}, "/dashboard"),
        (OfferRulesState.toggle_rule, {"rule_id": offer.id, "active": False}, "/admin/offers"),
    ]
    text = run(_send_all(backend_url, cookie_for(db, ub), calls), timeout=120)

    # Then nothing of Ann's reached Bob
    for secret in ("Ann's private parcel note", "9 Hidden Orchard Lane", "Ann-only region gift"):
        assert secret not in text
    assert "could not find" in text  # the forged address id was answered "not found"
    # And nothing of Ann's changed
    db.expire_all()
    assert db.get(Notification, note.id).read_at is None  # type: ignore[union-attr]
    same = db.get(Address, address.id)
    assert same is not None and same.line1 == "9 Hidden Orchard Lane" and same.customer_id == ca.id
    assert not same.is_default_billing or same.is_default_billing == address.is_default_billing
    assert db.get(CustomerOffer, offer.id).status == "open"  # type: ignore[union-attr]
    pref = db.get(UserPreference, ua.id)
    assert pref is not None and pref.dashboard_layout == ann_layout
    # And Bob's own address went to Bob's account, never Ann's
    assert db.exec(select(Address).where(Address.line1 == "Stolen", Address.customer_id == ca.id)).all() == []


def test_a_stranger_is_sent_to_sign_in_by_every_home_handler(db: Session, harness: Any, backend_url: str) -> None:
    ua, _ = make_customer(db)
    note = make_notification(db, ua, title="For Ann only")

    async def go() -> list[dict[str, Any]]:
        async with ReflexClient(backend_url) as c:
            out: list[dict[str, Any]] = []
            for h in (NotificationState.load, ProfileState.load, OffersState.load):
                out += await c.send(handler_name(h), path="/dashboard")
            out += await c.send(handler_name(NotificationState.mark_read), {"notification_id": note.id},
                                path="/dashboard")
            return out

    updates = run(go(), timeout=60)
    assert any(r.startswith("/login") for r in redirects(updates))
    assert "For Ann only" not in deltas_text(updates)
    db.expire_all()
    assert db.get(Notification, note.id).read_at is None  # type: ignore[union-attr]
