"""Offers the business configures as rules over customer history, evaluated per customer.

A rule qualifies a customer for one offer (at most one per rule and customer, kept with the
reason it was chosen and when it ends). Applying one is audited and told to the business
through the outbox; store-credit rewards are booked on the credit ledger.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, outbox
from portal.domain import stored_wording as sw
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_admin, require_customer
from portal.format import money
from portal.i18n import N_, tr, tr_n
from portal.models import (
    CreditEntry,
    Customer,
    CustomerOffer,
    OfferRule,
    OfferRuleKind,
    OfferStatus,
    Order,
    OrderStatus,
    Return,
    ReturnStatus,
)

# Marked for the catalogs; shown with tr()/t() where the rule editor renders them.
KIND_LABELS: dict[str, str] = {
    OfferRuleKind.AFTER_RETURN: N_("After a return"),
    OfferRuleKind.LOYALTY_TIER: N_("Loyalty tier by spending"),
    OfferRuleKind.REPEAT_PURCHASE: N_("Repeat purchases"),
    OfferRuleKind.REGION: N_("Region"),
}
_PARAMS = {  # kind -> allowed parameters
    OfferRuleKind.AFTER_RETURN: {"within_days"},
    OfferRuleKind.LOYALTY_TIER: {"min_spend_cents"},
    OfferRuleKind.REPEAT_PURCHASE: {"min_orders"},
    OfferRuleKind.REGION: {"countries"},
}
_SPENDING = [s.value for s in OrderStatus if s not in (OrderStatus.CANCELLED, OrderStatus.RETURNED)]
_DONE_RETURNS = [ReturnStatus.RECEIVED.value, ReturnStatus.REFUNDED.value, ReturnStatus.APPROVED.value,
                 ReturnStatus.LABEL_ISSUED.value, ReturnStatus.IN_TRANSIT.value]


@dataclasses.dataclass(frozen=True, slots=True)
class OfferView:
    id: int
    title: str
    description: str
    reason: str
    status: str
    reward_cents: int
    percent_off: int
    expires_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    kind: str
    title: str
    description: str
    reward_cents: int
    percent_off: int
    params: dict[str, Any]
    valid_days: int
    active: bool
    offered: int
    applied: int


def _reason(session: Session, rule: OfferRule, customer: Customer) -> str | None:
    """Why this customer qualifies for the rule, or None when they do not (worded in the language of
    the customer served now: it is kept with their offer)."""
    p = rule.params
    cid = customer.id
    if rule.kind == OfferRuleKind.AFTER_RETURN:
        since = utcnow() - timedelta(days=int(p.get("within_days", 90)))
        ret = session.exec(select(Return).where(Return.customer_id == cid, col(Return.status).in_(_DONE_RETURNS),
                                                col(Return.created_at) >= since)
                           .order_by(col(Return.created_at).desc())).first()
        return tr("You returned something to us recently (return {number}).", number=ret.number) if ret else None
    if rule.kind == OfferRuleKind.LOYALTY_TIER:
        spent = int(session.exec(select(func.coalesce(func.sum(Order.total_cents), 0))
                                 .where(Order.customer_id == cid, col(Order.status).in_(_SPENDING))).one() or 0)
        need = int(p.get("min_spend_cents", 0))
        if not (need and spent >= need):
            return None
        return tr("You have spent {amount} with us.", amount=money(spent, customer.currency))
    if rule.kind == OfferRuleKind.REPEAT_PURCHASE:
        count = int(session.exec(select(func.count()).select_from(Order)
                                 .where(Order.customer_id == cid, col(Order.status).in_(_SPENDING))).one())
        need = int(p.get("min_orders", 0))
        if not (need and count >= need):
            return None
        return tr_n("You have ordered from us {n} time.", "You have ordered from us {n} times.", count)
    if rule.kind == OfferRuleKind.REGION:
        countries = [c for c in str(p.get("countries", "")).split(",") if c]
        return tr("For customers in {country}.", country=customer.country) if customer.country in countries else None
    return None


def _view(offer: CustomerOffer, rule: OfferRule) -> OfferView:
    return OfferView(id=offer.id or 0, title=rule.title, description=rule.description, reason=offer.reason,
                     status=offer.status, reward_cents=rule.reward_cents, percent_off=rule.percent_off,
                     expires_at=offer.expires_at)


def offers_for(session: Session, *, principal: Principal) -> list[OfferView]:
    """Evaluate every active rule for the caller's customer, then list their open offers."""
    customer_id = require_customer(principal)
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer")
    now = utcnow()
    have = set(session.exec(select(CustomerOffer.rule_id).where(CustomerOffer.customer_id == customer_id)).all())
    for rule in session.exec(select(OfferRule).where(OfferRule.active == True)  # noqa: E712
                            .order_by(col(OfferRule.id))).all():
        if rule.id in have:
            continue
        reason = _reason(session, rule, customer)
        if reason:
            try:
                # Two tabs may evaluate at once: the unique (rule, customer) pair lets one win.
                with session.begin_nested():
                    session.add(CustomerOffer(rule_id=rule.id or 0, customer_id=customer_id, reason=reason[:300],
                                              expires_at=now + timedelta(days=rule.valid_days)))
            except IntegrityError:
                pass
    rows = session.exec(
        select(CustomerOffer, OfferRule).join(OfferRule, col(OfferRule.id) == col(CustomerOffer.rule_id))
        .where(CustomerOffer.customer_id == customer_id, CustomerOffer.status == OfferStatus.OPEN,
               col(CustomerOffer.expires_at) > now, OfferRule.active == True)  # noqa: E712
        .order_by(col(CustomerOffer.expires_at))
    ).all()
    return [_view(o, r) for o, r in rows]


def _own_open_offer(session: Session, principal: Principal, offer_id: Any) -> tuple[CustomerOffer, OfferRule]:
    customer_id = require_customer(principal)
    if not isinstance(offer_id, int) or isinstance(offer_id, bool):
        raise NotFound("offer")
    offer = session.get(CustomerOffer, offer_id)
    if offer is None or offer.customer_id != customer_id:
        raise NotFound("offer")
    rule = session.get(OfferRule, offer.rule_id)
    if rule is None:
        raise NotFound("offer")
    if offer.status != OfferStatus.OPEN or offer.expires_at <= utcnow() or not rule.active:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This offer has ended or was already used."))
    return offer, rule


def apply_offer(session: Session, *, principal: Principal, offer_id: int,
                request: audit.RequestInfo = audit.NO_REQUEST) -> OfferView:
    offer, rule = _own_open_offer(session, principal, offer_id)
    offer.status = OfferStatus.APPLIED
    offer.decided_at = utcnow()
    offer.decided_by_user_id = principal.user_id
    session.add(offer)
    customer = session.get(Customer, offer.customer_id)
    if rule.reward_cents > 0 and customer is not None:
        session.add(CreditEntry(customer_id=offer.customer_id, amount_cents=rule.reward_cents,
                                currency=customer.currency,
                                reason=sw.CREDIT_REASONS.write(sw.OFFER, title=rule.title)[:200]))
        events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=offer.customer_id))
    audit.record(session, action="offer.applied", principal=principal, target_type="offer",
                 target_id=offer.id or "", request=request, rule_id=rule.id)
    outbox.enqueue(session, kind="offer.applied", customer_id=offer.customer_id,
                   payload={"offer_id": offer.id, "rule_id": rule.id, "rule_kind": rule.kind, "title": rule.title,
                            "reward_cents": rule.reward_cents, "percent_off": rule.percent_off})
    events.emit(session, DomainEvent(topic=Topic.OFFERS, customer_id=offer.customer_id))
    return _view(offer, rule)


def dismiss_offer(session: Session, *, principal: Principal, offer_id: int,
                  request: audit.RequestInfo = audit.NO_REQUEST) -> None:
    offer, rule = _own_open_offer(session, principal, offer_id)
    offer.status = OfferStatus.DISMISSED
    offer.decided_at = utcnow()
    offer.decided_by_user_id = principal.user_id
    session.add(offer)
    audit.record(session, action="offer.dismissed", principal=principal, target_type="offer",
                 target_id=offer.id or "", request=request, rule_id=rule.id)
    events.emit(session, DomainEvent(topic=Topic.OFFERS, customer_id=offer.customer_id))


# --- admin -----------------------------------------------------------------------------------

def list_rules(session: Session, *, principal: Principal) -> list[RuleView]:
    require_admin(principal)
    counts: dict[tuple[int, str], int] = {
        (rid, status): int(n) for rid, status, n in session.exec(
            select(CustomerOffer.rule_id, CustomerOffer.status, func.count())
            .group_by(col(CustomerOffer.rule_id), col(CustomerOffer.status))).all()}
    out = []
    for r in session.exec(select(OfferRule).order_by(col(OfferRule.id))).all():
        rid = r.id or 0
        offered = sum(n for (i, _), n in counts.items() if i == rid)
        out.append(RuleView(id=rid, kind=r.kind, title=r.title, description=r.description,
                            reward_cents=r.reward_cents, percent_off=r.percent_off, params=dict(r.params),
                            valid_days=r.valid_days, active=r.active, offered=offered,
                            applied=counts.get((rid, OfferStatus.APPLIED.value), 0)))
    return out


def _int(value: Any, *, field: str, lo: int, hi: int) -> int:
    try:
        n = int(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise Invalid(tr("Enter a whole number from {lo} to {hi}.", lo=lo, hi=hi), field=field)
    return n


def save_rule(session: Session, *, principal: Principal, rule_id: int | None, data: dict[str, Any]) -> RuleView:
    admin = require_admin(principal)
    if not isinstance(data, dict):
        raise Invalid(tr("Fill in the rule."), field="rule")
    kind = data.get("kind")
    if kind not in _PARAMS:
        raise Invalid(tr("Choose what the rule looks at."), field="kind")
    title = data.get("title", "")
    if not isinstance(title, str) or not title.strip() or len(title) > 120:
        raise Invalid(tr("Give the offer a title of up to 120 characters."), field="title")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        raise Invalid(tr("Use at most 500 characters."), field="description")
    reward = _int(data.get("reward_cents", 0) or 0, field="reward_cents", lo=0, hi=1_000_000)
    percent = _int(data.get("percent_off", 0) or 0, field="percent_off", lo=0, hi=90)
    valid_days = _int(data.get("valid_days", 30) or 30, field="valid_days", lo=1, hi=365)
    params: dict[str, Any] = {}
    if kind == OfferRuleKind.AFTER_RETURN:
        params["within_days"] = _int(data.get("within_days", 90) or 90, field="within_days", lo=1, hi=365)
    elif kind == OfferRuleKind.LOYALTY_TIER:
        params["min_spend_cents"] = _int(data.get("min_spend_cents"), field="min_spend_cents", lo=1,
                                         hi=100_000_000)
    elif kind == OfferRuleKind.REPEAT_PURCHASE:
        params["min_orders"] = _int(data.get("min_orders"), field="min_orders", lo=1, hi=1000)
    else:
        raw = data.get("countries", "")
        codes = [c.strip().upper() for c in raw.split(",")] if isinstance(raw, str) else []
        if not codes or any(len(c) != 2 or not c.isalpha() for c in codes) or len(codes) > 50:
            raise Invalid(tr("List two-letter country codes separated by commas, e.g. GB,IE."), field="countries")
        params["countries"] = ",".join(codes)
    if rule_id is None:
        rule = OfferRule(kind=kind, title=title.strip(), created_by_user_id=admin.user_id)
    else:
        found = session.get(OfferRule, rule_id) if isinstance(rule_id, int) else None
        if found is None:
            raise NotFound("rule")
        rule = found
    rule.kind, rule.title, rule.description = kind, title.strip(), description.strip()
    rule.reward_cents, rule.percent_off, rule.valid_days, rule.params = reward, percent, valid_days, params
    rule.active = bool(data.get("active", True))
    session.add(rule)
    session.flush()
    audit.record(session, action="offer_rule.saved", principal=admin, target_type="offer_rule",
                 target_id=rule.id or "", kind=kind, active=rule.active)
    events.emit(session, DomainEvent(topic=Topic.OFFERS, roles=("customer",)))
    return next(r for r in list_rules(session, principal=admin) if r.id == rule.id)


def set_rule_active(session: Session, *, principal: Principal, rule_id: int, active: bool) -> None:
    admin = require_admin(principal)
    rule = session.get(OfferRule, rule_id) if isinstance(rule_id, int) else None
    if rule is None:
        raise NotFound("rule")
    rule.active = bool(active)
    session.add(rule)
    audit.record(session, action="offer_rule.saved", principal=admin, target_type="offer_rule",
                 target_id=rule.id or "", active=rule.active)
    events.emit(session, DomainEvent(topic=Topic.OFFERS, roles=("customer",)))
