"""Admin insights: charts over any date range, each exportable as CSV."""

from __future__ import annotations

import reflex as rx

from portal.components.common import download_link, error_callout, form
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.insights import InsightsState, ReportView


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
        rx.grid(rx.foreach(InsightsState.reports, _report), columns=rx.breakpoints(initial="1", md="2"),
                spacing="4", width="100%"),
        width="100%", spacing="3",
    )


def register(app: rx.App) -> None:
    app.add_page(insights_page, route="/admin/insights", title=N_("Insights"), on_load=InsightsState.load)
