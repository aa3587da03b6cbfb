"""The customer's timeline: everything that happened to their account, on one page."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.timeline import KIND_CHOICES, TimelineRow, TimelineState


def timeline_row(r: TimelineRow) -> rx.Component:
    """One entry; also used by the dashboard's "Recent activity" widget."""
    return rx.hstack(
        rx.icon(r.icon, size=16),
        rx.vstack(
            rx.cond(r.link != "", rx.link(r.title, href=r.link, size="2", weight="medium"),
                    rx.text(r.title, size="2", weight="medium")),
            rx.cond(r.detail != "", rx.text(r.detail, size="1", color_scheme="gray")),
            spacing="0", align="start", min_width="0",
        ),
        rx.spacer(),
        rx.vstack(rx.badge(r.kind_label, variant="soft", color_scheme=rx.cond(r.problem, "red", "gray"), size="1"),
                  rx.text(r.when, size="1", color_scheme="gray"), spacing="1", align="end"),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}", align="start",
        data_testid="timeline-entry", data_kind=r.kind,
    )


def _filters() -> rx.Component:
    s = TimelineState
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(aria_label=t("Show"), data_testid="timeline-kind"),
            rx.select.content(*[rx.select.item(t(label), value=value) for value, label in KIND_CHOICES]),
            value=s.kind, on_change=s.update_kind,
        ),
        rx.input(value=s.query, on_change=s.update_query, debounce_timeout=300, placeholder=t("Search the timeline"),
                 aria_label=t("Search the timeline"), id="timeline-search", width="16rem", max_width="100%"),
        rx.cond((s.kind != "all") | (s.query != ""),
                rx.button(t("Clear"), size="1", variant="ghost", on_click=s.clear_filters)),
        wrap="wrap", spacing="2", align="center", width="100%",
    )


@shell(N_("Timeline"))
def timeline_page() -> rx.Component:
    s = TimelineState
    return card(
        t("Everything on your account"),
        _filters(),
        error_callout(s.error),
        rx.cond(
            s.loaded,
            rx.cond(s.rows.length() > 0,
                    rx.vstack(rx.foreach(s.rows, timeline_row), spacing="0", width="100%", data_testid="timeline"),
                    empty_note(rx.cond((s.kind != "all") | (s.query != ""), t("Nothing matches."),
                                       t("Nothing has happened on your account yet.")))),
            rx.center(rx.spinner(size="3"), padding="2rem"),
        ),
        rx.cond(s.has_more, rx.button(t("Show more"), variant="soft", on_click=s.show_more,
                                      data_testid="timeline-more")),
        icon="history",
    )


def register(app: rx.App) -> None:
    app.add_page(timeline_page, route="/timeline", title=N_("Timeline"), on_load=TimelineState.load)
