"""Shipment timeline (/shipments/<id>) and the list of a customer's shipments (/shipments)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, status_badge
from portal.components.support import help_link
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.shipments import CheckpointRow, MilestoneRow, ShipmentRow, ShipmentsState, ShipmentState


def _milestone(m: MilestoneRow) -> rx.Component:
    color = rx.match(m.state, ("done", "green"), ("current", "amber"), ("problem", "red"), "gray")
    icon = rx.match(
        m.state,
        ("done", rx.icon("circle_check", size=18, color=rx.color("green", 10))),
        ("current", rx.icon("circle_dot", size=18, color=rx.color("amber", 10))),
        ("problem", rx.icon("circle_alert", size=18, color=rx.color("red", 10))),
        rx.icon("circle", size=18, color=rx.color("gray", 8)),
    )
    return rx.hstack(
        icon,
        rx.text(m.label, weight=rx.cond(m.state == "todo", "regular", "medium"), size="2",
                color_scheme=rx.cond(m.state == "todo", "gray", color)),
        rx.spacer(),
        rx.text(m.when, size="1", color_scheme="gray"),
        width="100%", align="center", data_testid="milestone", data_state=m.state,
    )


def _checkpoint(c: CheckpointRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(c.message, weight="medium", size="2"),
            rx.text(c.location, size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.vstack(status_badge(c.status, c.label), rx.text(c.when, size="1", color_scheme="gray"),
                  spacing="1", align="end", min_width="9rem"),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="checkpoint",
    )


def _delivery() -> rx.Component:
    v = ShipmentState.view
    return card(
        t("Delivery"),
        rx.cond(
            v.delivered != "",
            rx.text(t("Delivered {date}", date=v.delivered), size="3", weight="medium", data_testid="delivered-at"),
            rx.vstack(
                rx.text(v.expected_label, size="1", color_scheme="gray"),
                rx.text(rx.cond(v.expected != "", v.expected, t("The carrier has not given a date yet.")),
                        size="3", weight="medium", data_testid="expected-window"),
                rx.cond(v.slipped,
                        rx.badge(rx.icon("clock_alert", size=12),
                                 t("Delayed – originally expected {date}", date=v.original),
                                 color_scheme="amber", data_testid="slipped")),
                spacing="1", align="start",
            ),
        ),
        icon="calendar_clock",
    )


def _advice() -> rx.Component:
    """A problem, a failed attempt or a pickup: what it means and what to do, with help one click away."""
    v = ShipmentState.view
    return rx.cond(
        v.advice_tone != "",
        rx.callout.root(
            rx.callout.icon(rx.cond(v.advice_tone == "problem", rx.icon("triangle_alert"), rx.icon("info"))),
            rx.vstack(
                rx.text(v.advice_title, weight="bold", size="2", data_testid="advice-title"),
                rx.text(v.advice_text, size="2"),
                rx.text(rx.text.strong(t("What to do:")), " ", v.advice_next, size="2", data_testid="advice-next"),
                help_link("shipment", rx.State.router.page.params.get("id", ""),  # type: ignore[attr-defined]
                          test_id="advice-help"),
                spacing="1", align="start",
            ),
            color_scheme=rx.cond(v.advice_tone == "problem", "red", "amber"), width="100%",
            role="status", data_testid="shipment-advice",
        ),
    )


@shell(N_("Shipment"))
def shipment_page() -> rx.Component:
    v = ShipmentState.view
    return rx.vstack(
        error_callout(ShipmentState.error),
        rx.cond(
            ShipmentState.loaded,
            rx.vstack(
                rx.hstack(
                    rx.heading(v.carrier, " ", v.tracking_number, size="5", data_testid="shipment-title"),
                    status_badge(v.status, v.status_label),
                    help_link("shipment", rx.State.router.page.params.get("id", "")),  # type: ignore[attr-defined]
                    rx.spacer(),
                    rx.link(t("Order {number}", number=v.order_number), href=v.order_href, size="2"),
                    align="center", width="100%", wrap="wrap",
                ),
                rx.text(v.detail, color_scheme="gray", size="2", data_testid="shipment-detail"),
                _advice(),
                rx.grid(
                    card(t("Progress"), rx.vstack(rx.foreach(ShipmentState.milestones, _milestone), spacing="2",
                                               width="100%"), icon="route", test_id="milestones"),
                    _delivery(),
                    columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
                ),
                card(t("Tracking history"),
                     rx.cond(ShipmentState.checkpoints.length() > 0,
                             rx.vstack(rx.foreach(ShipmentState.checkpoints, _checkpoint), spacing="0",
                                       width="100%"),
                             empty_note(t("No scans from the carrier yet."))),
                     icon="map_pin", test_id="checkpoints"),
                spacing="4", width="100%",
            ),
            rx.cond(ShipmentState.error == "", rx.center(rx.spinner(size="3"), padding="4rem")),
        ),
        rx.link(t("← All shipments"), href="/shipments", size="2"),
        # The carrier's next scan, announced politely while the page is open; the focus stays put.
        rx.el.div(ShipmentState.announce, role="status", aria_live="polite", aria_atomic="true",
                  class_name="sr-only", data_testid="live-announce"),
        spacing="4", width="100%",
    )


def _shipment_row(r: ShipmentRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(r.carrier, " ", r.tracking_number, href="/shipments/" + r.id.to_string(), weight="medium",
                    size="2"),
            rx.text(t("Order {number}", number=r.order_number), " · ", r.detail, size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.vstack(status_badge(r.status, r.status_label), rx.text(r.expected, size="1", color_scheme="gray"),
                  spacing="1", align="end"),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="shipment-row",
    )


@shell(N_("Shipments"))
def shipments_page() -> rx.Component:
    return rx.cond(
        ShipmentsState.loaded,
        card(t("Your shipments"),
             rx.cond(ShipmentsState.rows.length() > 0,
                     rx.vstack(rx.foreach(ShipmentsState.rows, _shipment_row), spacing="0", width="100%"),
                     empty_note(t("Nothing has been shipped to you yet."))),
             icon="truck", test_id="shipments"),
        rx.center(rx.spinner(size="3"), padding="4rem"),
    )


def register(app: rx.App) -> None:
    app.add_page(shipments_page, route="/shipments", title=N_("Shipments"), on_load=ShipmentsState.load)
    app.add_page(shipment_page, route="/shipments/[id]", title=N_("Shipment"), on_load=ShipmentState.load)
