"""Offers chosen for the customer; offer rules and the default home for admins."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, form, notice_callout
from portal.domain.home import WIDGETS
from portal.domain.offers import KIND_LABELS
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.state.offers import OfferCard, OfferRulesState, OffersState, RuleRow


def _offer(o: OfferCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("gift", size=18, color=rx.color("accent", 10)), rx.heading(o.title, size="4"),
                      rx.spacer(), rx.cond(o.reward != "", rx.badge(o.reward, color_scheme="green")),
                      width="100%", align="center"),
            rx.text(o.description, size="2"),
            rx.text(t("Why you: {reason}", reason=o.reason), size="2", color_scheme="gray", data_testid="offer-reason"),
            rx.text(t("Ends {date}", date=o.ends), size="1", color_scheme="gray"),
            rx.hstack(
                rx.button(t("Apply"), on_click=OffersState.apply(o.id), data_testid="offer-apply"),
                rx.button(t("No thanks"), variant="soft", color_scheme="gray", on_click=OffersState.dismiss(o.id),
                          data_testid="offer-dismiss"),
            ),
            spacing="2", width="100%",
        ),
        width="100%", data_testid="offer-card",
    )


@shell(N_("Offers for you"))
def offers_page() -> rx.Component:
    return rx.vstack(
        notice_callout(OffersState.notice),
        error_callout(OffersState.error),
        # Until the offers have loaded, a spinner: not "no offers", which is not yet known.
        rx.cond(OffersState.loaded,
                rx.cond(OffersState.items.length() > 0,
                        rx.vstack(rx.foreach(OffersState.items, _offer), spacing="3", width="100%"),
                        rx.text(t("No offers for you right now."), size="2", color_scheme="gray")),
                rx.center(rx.spinner(size="3"), padding="4rem", width="100%")),
        width="100%", spacing="3",
    )


def _rule_row(r: RuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.title), rx.table.cell(r.kind), rx.table.cell(r.condition), rx.table.cell(r.reward),
        rx.table.cell(tn("{n} days", "{n} days", r.valid_days)),
        rx.table.cell(r.applied.to_string(), " / ", r.offered.to_string()),
        rx.table.cell(rx.switch(checked=r.active, on_change=lambda v: OfferRulesState.toggle_rule(r.id, v),
                                aria_label=t("Active"))),
        data_testid="rule-row",
    )


def _num(label: object, name: str, hint: str = "") -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"),
                     rx.input(name=name, type="number", min="0", width="100%", placeholder=hint),
                     spacing="1", width="100%")


def _new_rule() -> rx.Component:
    k = OfferRulesState.kind
    return form(
        rx.vstack(
            rx.heading(t("New rule"), size="3"),
            rx.select.root(
                rx.select.trigger(data_testid="rule-kind", aria_label=t("Kind of rule")),
                rx.select.content(*[rx.select.item(t(v), value=str(key)) for key, v in KIND_LABELS.items()]),
                value=k, on_change=OfferRulesState.set_kind,
            ),
            rx.input(name="title", placeholder=t("Title customers see"), required=True, width="100%"),
            rx.text_area(name="description", placeholder=t("What they get"), width="100%"),
            rx.grid(
                rx.match(k,
                         ("after_return", _num(t("Returned within (days)"), "within_days", "90")),
                         ("loyalty_tier", _num(t("Minimum spend (cents)"), "min_spend_cents", "50000")),
                         ("repeat_purchase", _num(t("Minimum orders"), "min_orders", "3")),
                         rx.vstack(rx.text(t("Countries"), size="2", weight="medium"),
                                   rx.input(name="countries", placeholder="GB,IE", width="100%"),
                                   spacing="1", width="100%")),
                _num(t("Store credit (cents)"), "reward_cents", "0"),
                _num(t("Percent off"), "percent_off", "0"),
                _num(t("Valid for (days)"), "valid_days", "30"),
                columns=rx.breakpoints(initial="1", sm="4"), spacing="3", width="100%",
            ),
            rx.button(t("Save rule"), type="submit", data_testid="save-rule"),
            spacing="2", width="100%",
        ),
        on_submit=OfferRulesState.create_rule,
    )


def _default_home() -> rx.Component:
    return card(
        t("Default home for new customers"),
        error_callout(OfferRulesState.default_error),
        rx.vstack(*[
            rx.checkbox(t(title), checked=OfferRulesState.default_widgets.contains(kind),
                        on_change=lambda v, kind=kind: OfferRulesState.toggle_default_widget(kind, v))
            for kind, title in WIDGETS.items()
        ], spacing="2"),
        icon="layout_dashboard",
    )


@shell(N_("Offers and home"))
def offer_rules_page() -> rx.Component:
    return rx.vstack(
        card(
            t("Offer rules"),
            notice_callout(OfferRulesState.notice),
            error_callout(OfferRulesState.error),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    t("Title"), t("Kind"), t("Who qualifies"), t("Reward"), t("Lasts"), t("Applied / offered"),
                    t("Active"))])),
                rx.table.body(rx.foreach(OfferRulesState.rules, _rule_row)),
                width="100%",
            ),
            _new_rule(),
            icon="gift",
        ),
        _default_home(),
        width="100%", spacing="4",
    )


def register(app: rx.App) -> None:
    app.add_page(offers_page, route="/offers", title=N_("Offers"), on_load=OffersState.load)
    app.add_page(offer_rules_page, route="/admin/offers", title=N_("Offers and home"), on_load=OfferRulesState.load)
