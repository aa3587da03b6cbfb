"""Order detail: lines and totals."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout, status_badge
from portal.components.support import help_link
from portal.layouts.shell import shell
from portal.state.order_detail import LineRow, OrderDetailState


def _line(ln: LineRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(ln.name, weight="medium"), rx.text(ln.variant, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(ln.quantity),
        rx.table.cell(ln.unit_price, display=["none", "table-cell"]),
        rx.table.cell(ln.total, text_align="right"),
    )


def _total(label: str, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.hstack(rx.text(label, color_scheme="gray"), rx.spacer(),
                     rx.text(value, weight="bold" if strong else "regular"), width="100%")


def _order_id() -> rx.Var:
    # The dynamic route argument; the ticket form checks the order is the customer's own.
    return rx.State.router.page.params.get("order_id", "")  # type: ignore[attr-defined]


@shell("Order")
def order_page() -> rx.Component:
    o = OrderDetailState.order
    return rx.vstack(
        error_callout(OrderDetailState.error),
        rx.cond(
            o.number != "",
            rx.vstack(
                rx.hstack(rx.heading(o.number, size="5", data_testid="order-number"),
                          status_badge(o.status, o.status_label), help_link("order", _order_id()), rx.spacer(),
                          rx.text("Placed ", o.placed, color_scheme="gray", size="2"),
                          align="center", width="100%", wrap="wrap"),
                card("Items", rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell("Item"), rx.table.column_header_cell("Qty"),
                        rx.table.column_header_cell("Price", display=["none", "table-cell"]),
                        rx.table.column_header_cell("Total", text_align="right"))),
                    rx.table.body(rx.foreach(OrderDetailState.lines, _line)),
                    width="100%"), icon="package"),
                card("Totals", _total("Subtotal", o.subtotal), _total("Shipping", o.shipping),
                     _total("Included VAT", o.tax), rx.divider(), _total("Total", o.total, strong=True),
                     icon="receipt"),
                spacing="4", width="100%",
            ),
        ),
        rx.link("← Back to home", href="/dashboard", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(order_page, route="/orders/[order_id]", title="Order", on_load=OrderDetailState.load)
