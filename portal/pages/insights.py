"""Admin insights: charts over any date range, each exportable as CSV."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, download_link, error_callout, form
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.insights import GapView, InsightsState, ReportView


def _report(r: ReportView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(r.title, size="3"), rx.spacer(),
                      download_link(rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                                    r.csv_url, test_id="csv-" + r.name.to(str)),
                      width="100%", align="center"),
            rx.foreach(r.summary, lambda f: rx.hstack(
                rx.text(f["label"].to(str), size="2", color_scheme="gray"),
                rx.text(f["value"].to(str), size="4", weight="bold"), align="baseline",
                data_testid="report-summary")),
            rx.cond(
                r.points.length() > 0,
                rx.recharts.bar_chart(
                    rx.recharts.bar(data_key="value", fill=rx.color("accent", 9)),
                    rx.recharts.x_axis(data_key="label", tick={"fontSize": 11}, interval=0,
                                       tick_formatter=rx.vars.FunctionStringVar.create(
                                           "(v) => (String(v).length > 14 ? String(v).slice(0, 13) + '…' : v)")),
                    rx.recharts.y_axis(allow_decimals=True),
                    rx.recharts.graphing_tooltip(),
                    data=r.points, width="100%", height=220,
                ),
                rx.text(t("Nothing in this period."), size="2", color_scheme="gray"),
            ),
            # The same figures as text: readable without the chart (screen readers, copying).
            rx.vstack(
                rx.foreach(r.points, lambda p: rx.hstack(
                    # A long search term wraps inside its card instead of running out of it.
                    rx.text(p["label"].to(str), size="1", trim="both", overflow_wrap="anywhere", min_width="0"),
                    rx.spacer(),
                    rx.text(p["value"].to(str), size="1", weight="medium", flex_shrink="0"),
                    width="100%", data_testid="report-row")),
                spacing="0", width="100%",
            ),
            spacing="2", width="100%",
        ),
        width="100%", min_width="0", data_testid="report-" + r.name.to(str),
    )


def _kind(n: rx.Var, label: rx.Var, color: str, test_id: str) -> rx.Component:
    return rx.cond(n > 0, rx.badge(label, color_scheme=color, variant="soft", data_testid=test_id))


def _gap(g: GapView) -> rx.Component:
    s = InsightsState
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.text(g.question, weight="medium", overflow_wrap="anywhere", data_testid="gap-question"),
                rx.hstack(
                    rx.badge(rx.cond(g.is_article, t("{n} unhelpful votes", n=g.count),
                                     t("asked {n} times", n=g.count)), data_testid="gap-count"),
                    _kind(g.no_result, t("no result: {n}", n=g.no_result), "amber", "gap-no-result"),
                    _kind(g.ticket_after, t("ticket after: {n}", n=g.ticket_after), "red", "gap-ticket-after"),
                    _kind(g.unhelpful, t("voted unhelpful: {n}", n=g.unhelpful), "orange", "gap-unhelpful"),
                    rx.text(t("{n} people, last {when}", n=g.people, when=g.last), size="1", color_scheme="gray"),
                    spacing="2", wrap="wrap", align="center",
                ),
                spacing="1", min_width="0", flex="1",
            ),
            rx.button(rx.cond(g.is_article, rx.icon("pencil", size=14), rx.icon("file_plus", size=14)),
                      rx.cond(g.is_article, t("Improve the article"), t("Write an article")),
                      size="1", variant="soft", on_click=s.write_article(g.key),
                      aria_label=rx.cond(g.is_article, t("Improve the article: {title}", title=g.question),
                                         t("Write an article: {question}", question=g.question)),
                      data_testid="gap-write"),
            width="100%", align="start", spacing="3",
        ),
        rx.cond(
            g.phrasing_count > 1,
            rx.el.details(
                rx.el.summary(t("How it was asked ({n} phrasings)", n=g.phrasing_count),
                              style={"cursor": "pointer", "fontSize": "var(--font-size-1)"}),
                rx.el.ul(rx.foreach(g.phrasings, lambda q: rx.el.li(rx.text(q, size="1"))),
                         style={"margin": "0.25rem 0 0 1.25rem"}),
                data_testid="gap-phrasings",
            ),
        ),
        rx.cond(
            g.comments.length() > 0,
            rx.el.details(
                rx.el.summary(t("What readers said ({n})", n=g.comments.length()),
                              style={"cursor": "pointer", "fontSize": "var(--font-size-1)"}),
                rx.el.ul(rx.foreach(g.comments, lambda c: rx.el.li(rx.text(c, size="1"))),
                         style={"margin": "0.25rem 0 0 1.25rem"}),
                data_testid="gap-comments",
            ),
        ),
        spacing="1", width="100%", padding_y="0.5rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="gap-row",
    )


def _gaps() -> rx.Component:
    s = InsightsState
    return card(
        t("Questions without a good answer"),
        rx.text(t("Searches that found nothing, searches followed by a ticket on the same topic within a day, and "
                  "articles voted unhelpful. Phrasings of one question are counted together."),
                size="2", color_scheme="gray"),
        error_callout(s.gap_error),
        rx.cond(s.gaps_note != "", rx.text(s.gaps_note, size="1", weight="medium", data_testid="gaps-capped")),
        rx.cond(s.gaps.length() > 0, rx.box(rx.foreach(s.gaps, _gap), width="100%"),
                rx.text(t("Nothing in this period."), size="2", color_scheme="gray")),
        icon="circle_help", test_id="content-gaps",
    )


@shell(N_("Insights"))
def insights_page() -> rx.Component:
    return rx.vstack(
        form(
            rx.hstack(
                rx.vstack(rx.text(t("From"), size="2"), rx.input(type="date", name="start", aria_label=t("From"),
                                                             default_value=InsightsState.start), spacing="1"),
                rx.vstack(rx.text(t("To"), size="2"), rx.input(type="date", name="end", aria_label=t("To"),
                                                           default_value=InsightsState.end), spacing="1"),
                rx.button(t("Show"), type="submit", data_testid="insights-range"),
                align="end", spacing="3",
            ),
            on_submit=InsightsState.set_range, key=InsightsState.loaded.to_string(),
        ),
        error_callout(InsightsState.error),
        rx.text(t("Collected by the portal itself: page views, form progress (field names only), searches, tickets "
                  "and offers. No third-party tracker; nothing typed into any field is stored."),
                size="1", color_scheme="gray"),
        _gaps(),
        rx.grid(rx.foreach(InsightsState.reports, _report), columns=rx.breakpoints(initial="1", md="2"),
                spacing="4", width="100%"),
        width="100%", spacing="3",
    )


def register(app: rx.App) -> None:
    app.add_page(insights_page, route="/admin/insights", title=N_("Insights"), on_load=InsightsState.load)
