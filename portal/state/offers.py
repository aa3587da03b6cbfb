"""Offers chosen for the customer, and the admin's offer rules and default dashboard."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from portal import format as fmt
from portal.db import session_scope
from portal.domain import home, offers
from portal.domain.errors import DomainError
from portal.domain.events import Topic
from portal.domain.principal import Principal
from portal.format import day_time, humanize, money
from portal.i18n import tr
from portal.live.push import listens
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for_error


@dataclasses.dataclass
class OfferCard:
    id: int
    title: str
    description: str
    reason: str
    reward: str
    ends: str


@access(Access.CUSTOMER)
@listens(Topic.OFFERS)
class OffersState(PortalState, rx.State):
    loaded: bool = False
    items: list[OfferCard] = []
    error: str = ""
    notice: str = ""

    @rx.event
    def load(self) -> None:
        self._reload()

    def _reload(self) -> None:
        found = self._view("offers", None, (Topic.OFFERS, Topic.ORDERS, Topic.BILLING, Topic.PROFILE),
                           offers.offers_for)
        rewards = []
        for o in found:
            parts = []
            if o.reward_cents:
                parts.append(tr("{amount} store credit", amount=money(o.reward_cents)))
            if o.percent_off:
                parts.append(tr("{percent} off", percent=fmt.percent(o.percent_off)))
            rewards.append(tr("{first} and {second}", first=parts[0], second=parts[1]) if len(parts) == 2
                           else "".join(parts))
        self._set(items=[OfferCard(id=o.id, title=o.title, description=o.description, reason=o.reason, reward=r,
                                   ends=day_time(o.expires_at)) for o, r in zip(found, rewards, strict=True)],
                  loaded=True)

    def _decide(self, offer_id: Any, apply: bool) -> None:
        if not isinstance(offer_id, int) or isinstance(offer_id, bool):
            return
        decide = offers.apply_offer if apply else offers.dismiss_offer
        if self._call(decide, offer_id=offer_id, request=request_info_of(self)) is FAILED:
            return
        self.error = ""
        self.notice = tr("Offer applied.") if apply else tr("Offer dismissed.")
        self._reload()

    @rx.event
    def apply(self, offer_id: int) -> None:
        self._decide(offer_id, True)

    @rx.event
    def dismiss(self, offer_id: int) -> None:
        self._decide(offer_id, False)


@dataclasses.dataclass
class RuleRow:
    id: int
    kind: str
    title: str
    condition: str
    reward: str
    valid_days: int
    active: bool
    offered: int
    applied: int


def _condition(kind: str, params: dict[str, Any]) -> str:
    if kind == "after_return":
        return tr("returned something in the last {days} days", days=params.get("within_days", 90))
    if kind == "loyalty_tier":
        return tr("spent at least {amount}", amount=money(int(params.get("min_spend_cents", 0))))
    if kind == "repeat_purchase":
        return tr("placed at least {count} orders", count=params.get("min_orders", 0))
    return tr("lives in {countries}", countries=params.get("countries", ""))


@access(Access.ADMIN)
class OfferRulesState(PortalState, rx.State):
    loaded: bool = False
    rules: list[RuleRow] = []
    error: str = ""
    notice: str = ""
    kind: str = "loyalty_tier"
    default_widgets: list[str] = []
    default_error: str = ""

    @rx.event
    def load(self) -> None:
        p = self._me()
        self._load(p)

    def _load(self, p: Principal) -> None:
        with session_scope() as db:
            rules = offers.list_rules(db, principal=p)
            layout = home.default_layout(db)
        self.rules = [RuleRow(id=r.id, kind=tr(offers.KIND_LABELS.get(r.kind, humanize(r.kind))),
                              title=r.title, condition=_condition(r.kind, r.params),
                              reward=" ".join(x for x in (money(r.reward_cents) if r.reward_cents else "",
                                                          tr("{percent} off", percent=fmt.percent(r.percent_off))
                                                          if r.percent_off else "") if x),
                              valid_days=r.valid_days, active=r.active, offered=r.offered, applied=r.applied)
                      for r in rules]
        self.default_widgets = [w["kind"] for w in layout]
        self.loaded = True

    @rx.event
    @on_loop
    def set_kind(self, kind: str) -> None:
        if isinstance(kind, str) and kind in offers.KIND_LABELS:
            self.kind = kind

    @rx.event
    def create_rule(self, form: dict[str, Any]) -> None:
        p = self._me()
        if not isinstance(form, dict):
            return
        data = {k: v for k, v in form.items() if isinstance(k, str) and isinstance(v, str) and len(v) <= 600}
        data["kind"] = self.kind
        try:
            with session_scope() as db:
                offers.save_rule(db, principal=p, rule_id=None, data=data)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self.error = ""
        self.notice = tr("Rule saved.")
        self._load(p)

    @rx.event
    def toggle_rule(self, rule_id: int, active: bool) -> None:
        if not isinstance(rule_id, int) or isinstance(rule_id, bool) or not isinstance(active, bool):
            return
        p = self._me()
        try:
            with session_scope() as db:
                offers.set_rule_active(db, principal=p, rule_id=rule_id, active=active)
        except DomainError as err:
            self.error = message_for_error(err)
            return
        self._load(p)

    @rx.event
    def toggle_default_widget(self, kind: str, on: bool) -> None:
        if not isinstance(kind, str) or kind not in home.WIDGETS or not isinstance(on, bool):
            return
        p = self._me()
        try:
            with session_scope() as db:
                layout = home.default_layout(db)
                if on and kind not in [w["kind"] for w in layout]:
                    layout.append({"kind": kind, "size": "sm" if kind == "balance" else "md",
                                   "options": {"limit": 5} if kind in home.LISTS else {}})
                elif not on:
                    layout = [w for w in layout if w["kind"] != kind]
                if not layout:
                    self.default_error = tr("The default home needs at least one widget.")
                    return
                home.set_default_layout(db, principal=p, layout=layout)
        except DomainError as err:
            self.default_error = message_for_error(err)
            return
        self.default_error = ""
        self._load(p)
