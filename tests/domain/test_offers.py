"""Offer rules evaluated over a customer's history; applying is recorded; isolation."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal.domain import offers
from portal.domain.errors import DomainError, Invalid, NotFound
from portal.models import AuditEvent, CreditEntry, CustomerOffer, OutboundEvent, Return, ReturnStatus
from portal.models.base import Role
from tests.factories import make_customer, make_order, make_staff, principal_for


def _rule(db: Session, **data: object) -> offers.RuleView:
    admin = make_staff(db, role=Role.ADMIN)
    rule = offers.save_rule(db, principal=principal_for(admin), rule_id=None,
                            data={"title": "Thank you", "valid_days": "14", **data})
    db.commit()
    return rule


def test_loyalty_rule_offers_to_big_spenders_only_with_the_reason(db: Session) -> None:
    _rule(db, kind="loyalty_tier", min_spend_cents="20000", reward_cents="1000")
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    make_order(db, ca, lines=(("Tent", 1, 25000),))
    make_order(db, cb, lines=(("Socks", 1, 900),))
    mine = offers.offers_for(db, principal=principal_for(ua))
    assert len(mine) == 1 and "spent" in mine[0].reason and mine[0].reward_cents == 1000
    assert offers.offers_for(db, principal=principal_for(ub)) == []


def test_region_repeat_and_return_rules(db: Session) -> None:
    _rule(db, kind="region", countries="ie, gb")
    _rule(db, kind="repeat_purchase", min_orders="2")
    _rule(db, kind="after_return", within_days="30")
    ua, ca = make_customer(db, country="GB")
    order = make_order(db, ca)
    make_order(db, ca)
    db.add(Return(number="R-1", order_id=order.id or 0, customer_id=ca.id or 0, status=ReturnStatus.REFUNDED))
    db.commit()
    reasons = sorted(o.reason for o in offers.offers_for(db, principal=principal_for(ua)))
    assert len(reasons) == 3 and any("GB" in r for r in reasons) and any("2 times" in r for r in reasons)
    _, cde = make_customer(db, country="DE")
    assert db.exec(select(CustomerOffer).where(CustomerOffer.customer_id == cde.id)).all() == []


def test_applying_books_credit_and_is_audited_and_sent_to_the_business(db: Session) -> None:
    _rule(db, kind="region", countries="GB", reward_cents="500")
    ua, ca = make_customer(db, country="GB")
    pa = principal_for(ua)
    offer = offers.offers_for(db, principal=pa)[0]
    offers.apply_offer(db, principal=pa, offer_id=offer.id)
    db.commit()
    assert db.exec(select(CreditEntry).where(CreditEntry.customer_id == ca.id)).one().amount_cents == 500
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "offer.applied")).one().customer_id == ca.id
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "offer.applied")).one().customer_id == ca.id
    assert offers.offers_for(db, principal=pa) == []  # applied: no longer open, and not offered again
    with pytest.raises(DomainError):
        offers.apply_offer(db, principal=pa, offer_id=offer.id)


def test_customer_b_cannot_apply_or_dismiss_customer_as_offer(db: Session) -> None:
    _rule(db, kind="region", countries="GB", reward_cents="500")
    ua, _ = make_customer(db, country="GB")
    ub, cb = make_customer(db, country="FR")
    offer = offers.offers_for(db, principal=principal_for(ua))[0]
    db.commit()
    for call in (offers.apply_offer, offers.dismiss_offer):
        with pytest.raises(NotFound):
            call(db, principal=principal_for(ub), offer_id=offer.id)
    db.rollback()
    row = db.get(CustomerOffer, offer.id)
    assert row is not None and row.status == "open"
    assert db.exec(select(CreditEntry).where(CreditEntry.customer_id == cb.id)).all() == []


@pytest.mark.parametrize("data", [
    {"kind": "lottery"}, {"kind": "region", "countries": "Great Britain"}, {"kind": "loyalty_tier"},
    {"kind": "repeat_purchase", "min_orders": "-1"}, {"kind": "region", "countries": "GB", "percent_off": "100"},
    {"kind": "region", "countries": "GB", "title": ""},
])
def test_bad_rules_are_refused(db: Session, data: dict[str, str]) -> None:
    admin = make_staff(db, role=Role.ADMIN)
    with pytest.raises(Invalid):
        offers.save_rule(db, principal=principal_for(admin), rule_id=None, data={"title": "T", **data})


def test_only_admins_manage_rules(db: Session) -> None:
    ua, _ = make_customer(db)
    with pytest.raises(DomainError):
        offers.list_rules(db, principal=principal_for(ua))
