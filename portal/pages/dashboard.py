"""The customer's home."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, status_badge
from portal.layouts.shell import shell
from portal.state.dashboard import DashboardState, OrderRow, TicketRow


def _order_row(o: OrderRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(o.number, href="/orders/" + o.id.to_string(), weight="medium", size="2"),
            rx.text(o.summary, size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.vstack(
            status_badge(o.status, o.status_label),
            rx.text(o.total, " · ", o.placed, size="1", color_scheme="gray"),
            spacing="1", align="end",
        ),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="order-row",
    )


def _ticket_row(t: TicketRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(t.subject, weight="medium", size="2"),
            rx.text(t.number, " · updated ", t.updated, size="1", color_scheme="gray"),
            spacing="0", align="start",
        ),
        rx.spacer(),
        rx.badge(t.status, variant="soft"),
        width="100%", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="ticket-row",
    )


def _balance() -> rx.Component:
    b = DashboardState.balance
    return card(
        "Balance",
        rx.vstack(
            rx.text("Due", size="1", color_scheme="gray"),
            rx.heading(b.due, size="7", data_testid="balance-due"),
            rx.cond(b.has_overdue,
                    rx.badge(rx.icon("triangle_alert", size=12), b.overdue, " overdue", color_scheme="red"),
                    rx.text(rx.cond(b.next_due != "", "Next due " + b.next_due.to(str), "Nothing due"),
                            size="1", color_scheme="gray")),
            rx.text("Store credit: ", b.store_credit, size="2"),
            spacing="1", align="start",
        ),
        icon="wallet", test_id="balance-card",
    )


@shell("Home")
def dashboard_page() -> rx.Component:
    return rx.cond(
        DashboardState.loaded,
        rx.grid(
            rx.box(
                card("Recent orders",
                     rx.cond(DashboardState.orders.length() > 0,
                             rx.vstack(rx.foreach(DashboardState.orders, _order_row), spacing="0", width="100%"),
                             empty_note("You have no orders yet.")),
                     icon="package", test_id="recent-orders"),
                grid_column=["span 1", "span 1", "span 2"],
            ),
            _balance(),
            rx.box(
                card("Open tickets",
                     rx.cond(DashboardState.tickets.length() > 0,
                             rx.vstack(rx.foreach(DashboardState.tickets, _ticket_row), spacing="0", width="100%"),
                             empty_note("No open tickets. We are here if you need us.")),
                     icon="life_buoy", test_id="open-tickets"),
                grid_column=["span 1", "span 1", "span 3"],
            ),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="4", width="100%",
        ),
        rx.center(rx.spinner(size="3"), padding="4rem"),
    )


def register(app: rx.App) -> None:
    app.add_page(dashboard_page, route="/dashboard", title="Home", on_load=DashboardState.load)
