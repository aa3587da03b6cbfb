"""Notification center, profile and dashboard layout: each person reaches only their own."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from portal.domain import home, inbox, profile
from portal.domain.errors import DomainError, Invalid, NotFound
from portal.domain.notifications import notify_customer
from portal.models import Address, AuditEvent, Notification, OutboundEvent, PortalSetting, User, UserPreference
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_home import ADDRESS, make_address, make_notification

# --- notifications ---------------------------------------------------------------------------


def test_unread_count_and_mark_read_are_per_person(db: Session) -> None:
    # Given Ann has two notifications and Bob one
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    n1 = make_notification(db, ua)
    make_notification(db, ua, title="Invoice ready", kind="billing")
    make_notification(db, ub)
    pa = principal_for(ua)
    assert inbox.unread_count(db, principal=pa) == 2
    # When she reads one
    inbox.mark_read(db, principal=pa, notification_id=n1.id or 0)
    db.commit()
    # Then one is left unread, and Bob's count is untouched
    assert inbox.unread_count(db, principal=pa) == 1
    assert inbox.unread_count(db, principal=principal_for(ub)) == 1
    assert [n.read for n in inbox.list_notifications(db, principal=pa)].count(True) == 1


def test_someone_elses_notification_is_not_found_and_stays_unread(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    note = make_notification(db, ua)
    with pytest.raises(NotFound):
        inbox.mark_read(db, principal=principal_for(ub), notification_id=note.id or 0)
    assert inbox.mark_all_read(db, principal=principal_for(ub)) == 0
    db.commit()
    db.refresh(note)
    assert note.read_at is None
    assert all(n.title != note.title for n in inbox.list_notifications(db, principal=principal_for(ub)))


def test_mark_all_read_and_links_outside_the_portal_are_dropped(db: Session) -> None:
    ua, _ = make_customer(db)
    make_notification(db, ua, link="https://evil.example/phish")
    make_notification(db, ua, link="/orders/1")
    pa = principal_for(ua)
    links = sorted(n.link for n in inbox.list_notifications(db, principal=pa))
    assert links == ["", "/orders/1"]
    assert inbox.mark_all_read(db, principal=pa) == 2
    db.commit()
    assert inbox.unread_count(db, principal=pa) == 0


def test_notify_customer_reaches_the_center_of_every_user_of_that_customer(db: Session) -> None:
    ua, ca = make_customer(db)
    notify_customer(db, customer_id=ca.id or 0, kind="support", title="New reply", link="/support/1")
    db.commit()
    assert [n.title for n in inbox.list_notifications(db, principal=principal_for(ua))] == ["New reply"]


# --- profile ---------------------------------------------------------------------------------

def _details(**over: str) -> dict[str, str]:
    base = {"full_name": "Ann Example", "phone": "+44 20 7946 0000", "company": "Example Ltd",
            "vat_number": "gb 123456789", "locale": "de", "timezone": "Europe/Berlin"}
    return {**base, **over}


def test_profile_update_is_validated_audited_and_announced(db: Session) -> None:
    ua, ca = make_customer(db)
    pa = principal_for(ua)
    prof = profile.update_profile(db, principal=pa, **_details())
    db.commit()
    assert (prof.full_name, prof.vat_number, prof.locale, prof.timezone) == (
        "Ann Example", "GB123456789", "de", "Europe/Berlin")
    audit_row = db.exec(select(AuditEvent).where(AuditEvent.action == "profile.updated")).one()
    assert "timezone" in audit_row.data["fields"] and audit_row.customer_id == ca.id
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "profile.changed")).one().customer_id == ca.id


@pytest.mark.parametrize(("field", "value"), [
    ("timezone", "Mars/Olympus"), ("timezone", "../../etc/passwd"), ("locale", "xx"), ("full_name", "  "),
    ("phone", "call me"), ("vat_number", "123"), ("full_name", "x" * 201),
])
def test_bad_profile_values_are_refused_with_the_field(db: Session, field: str, value: str) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(Invalid) as err:
        profile.update_profile(db, principal=principal_for(ua), **_details(**{field: value}))
    assert err.value.field == field


def test_email_preferences_change_and_unknown_kinds_are_refused(db: Session) -> None:
    ua, _ = make_customer(db)
    pa = principal_for(ua)
    prefs = profile.set_email_preferences(db, principal=pa, prefs={"offers": True, "shipping": False})
    db.commit()
    assert prefs == {"shipping": False, "support": True, "billing": True, "offers": True}
    pref = db.get(UserPreference, ua.id)
    assert pref is not None and pref.email_offers and not pref.email_shipping
    with pytest.raises(Invalid):
        profile.set_email_preferences(db, principal=pa, prefs={"password": True})
    with pytest.raises(Invalid):
        profile.set_email_preferences(db, principal=pa, prefs={"offers": "yes"})


def test_addresses_add_edit_default_delete(db: Session) -> None:
    ua, ca = make_customer(db)
    pa = principal_for(ua)
    first = profile.save_address(db, principal=pa, address_id=None, data=dict(ADDRESS))
    second = profile.save_address(db, principal=pa, address_id=None, data={**ADDRESS, "label": "Office",
                                                                           "country": "de"})
    db.commit()
    assert first.is_default_shipping and not second.is_default_shipping and second.country == "DE"
    profile.set_default_address(db, principal=pa, address_id=second.id, purpose="shipping")
    profile.save_address(db, principal=pa, address_id=second.id, data={**ADDRESS, "label": "Work", "city": "Bonn"})
    db.commit()
    rows = {a.id: a for a in profile.list_addresses(db, principal=pa)}
    assert rows[second.id].is_default_shipping and not rows[first.id].is_default_shipping
    assert rows[second.id].city == "Bonn" and rows[first.id].is_default_billing
    profile.delete_address(db, principal=pa, address_id=first.id)
    db.commit()
    left = profile.list_addresses(db, principal=pa)
    assert [a.id for a in left] == [second.id] and left[0].is_default_billing
    kinds = [e.payload["change"] for e in db.exec(select(OutboundEvent).where(OutboundEvent.kind == "address.changed")
                                                  .order_by(col(OutboundEvent.id)))]
    assert kinds == ["created", "created", "default_shipping", "updated", "deleted"]
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "address.deleted")).one().customer_id == ca.id


@pytest.mark.parametrize(("field", "value"), [("country", "Germany"), ("postal_code", "<script>"),
                                              ("line1", ""), ("phone", "abc")])
def test_bad_addresses_are_refused(db: Session, field: str, value: str) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(Invalid) as err:
        profile.save_address(db, principal=principal_for(ua), address_id=None, data={**ADDRESS, field: value})
    assert err.value.field == field


def test_customer_b_cannot_see_edit_default_or_delete_customer_as_address(db: Session) -> None:
    _, ca = make_customer(db)
    ub, _ = make_customer(db)
    address = make_address(db, ca, line1="7 Secret Lane")
    pb = principal_for(ub)
    assert profile.list_addresses(db, principal=pb) == []
    for call in (
        lambda: profile.save_address(db, principal=pb, address_id=address.id, data=dict(ADDRESS)),
        lambda: profile.delete_address(db, principal=pb, address_id=address.id or 0),
        lambda: profile.set_default_address(db, principal=pb, address_id=address.id or 0, purpose="billing"),
    ):
        with pytest.raises(NotFound):
            call()
    db.rollback()
    db.expire_all()
    same = db.get(Address, address.id)
    assert same is not None and same.line1 == "7 Secret Lane" and same.customer_id == ca.id


def test_staff_have_no_customer_profile(db: Session) -> None:
    agent = make_staff(db)
    with pytest.raises(DomainError):
        profile.get_profile(db, principal=principal_for(agent))


# --- dashboard layout ------------------------------------------------------------------------

def test_new_customer_starts_from_the_admin_default_and_keeps_their_own(db: Session) -> None:
    ua, _ = make_customer(db)
    admin = make_staff(db, role="admin")  # type: ignore[arg-type]
    pa = principal_for(ua)
    assert home.get_layout(db, principal=pa) == home.FACTORY_DEFAULT
    custom_default = [{"kind": "balance", "size": "lg", "options": {}}]
    home.set_default_layout(db, principal=principal_for(admin), layout=custom_default)
    db.commit()
    assert home.get_layout(db, principal=pa) == custom_default
    mine = [{"kind": "offers", "size": "sm", "options": {"limit": 2}},
            {"kind": "recent_orders", "size": "lg", "options": {"limit": 10}}]
    home.save_layout(db, principal=pa, layout=mine)
    db.commit()
    assert home.get_layout(db, principal=pa) == mine
    assert db.get(PortalSetting, home.DEFAULT_SETTING_KEY) is not None


@pytest.mark.parametrize("layout", [
    [{"kind": "bitcoin_miner", "size": "md", "options": {}}],
    [{"kind": "balance", "size": "huge", "options": {}}],
    [{"kind": "recent_orders", "size": "md", "options": {"limit": 1000}}],
    [{"kind": "recent_orders", "size": "md", "options": {"limit": "5"}}],
    [{"kind": "recent_orders", "size": "md", "options": {"customer_id": 1}}],
    [{"kind": "recent_orders", "size": "md", "options": {}, "user_id": 3}],
    [{"kind": "balance", "size": "md", "options": {}}, {"kind": "balance", "size": "md", "options": {}}],
    "recent_orders", [1, 2, 3],
])
def test_every_field_of_a_layout_is_validated(db: Session, layout: object) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(Invalid):
        home.save_layout(db, principal=principal_for(ua), layout=layout)


def test_saving_a_layout_touches_only_the_callers_preferences(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    mine = [{"kind": "help", "size": "sm", "options": {"limit": 3}}]
    home.save_layout(db, principal=principal_for(ub), layout=mine)
    db.commit()
    assert home.get_layout(db, principal=principal_for(ua)) == home.FACTORY_DEFAULT
    assert db.get(UserPreference, ua.id) is None


def test_only_admins_set_the_default_layout(db: Session) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(DomainError):
        home.set_default_layout(db, principal=principal_for(ua), layout=[])


def test_widget_queries_are_scoped_to_the_customer(db: Session) -> None:
    from portal.models import Document, DocumentStatus

    ua, ca = make_customer(db)
    ub, _ = make_customer(db)
    db.add(Document(customer_id=ca.id or 0, kind="contract", status=DocumentStatus.AWAITING_SIGNATURE,
                    title="Ann's contract"))
    db.commit()
    assert [d.title for d in home.documents_awaiting_signature(db, principal=principal_for(ua))] == ["Ann's contract"]
    assert home.documents_awaiting_signature(db, principal=principal_for(ub)) == []
    assert home.shipments_in_motion(db, principal=principal_for(ub)) == []
    assert db.exec(select(Notification)).all() == [] and db.exec(select(User)).all()
