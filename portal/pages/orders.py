"""Order history (search, filters, pages) and placing a new order or a reorder."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, status_badge
from portal.format import humanize
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.models import ORDER_STATUS_LABELS
from portal.pages import order_placed
from portal.state.new_order import DraftRow, NewOrderState, PickItem
from portal.state.order_detail import Option
from portal.state.orders import STATUS_CHOICES, OrderListRow, OrderListState


def native_select(options: rx.Var | list[tuple[str, str]], *, value: rx.Var, on_change: object, test_id: str,
                  placeholder: str = "", label: str = "") -> rx.Component:
    """A plain <select>: keyboard friendly, and tests can pick options by value.

    The texts of a list of options, the placeholder and the label are English texts marked with N_
    by the caller; they are shown translated (a Var of options is shown as it comes)."""
    if isinstance(options, list):
        children = [rx.el.option(t(text), value=val) for val, text in options]
    else:
        children = [rx.foreach(options, lambda o: rx.el.option(o.label, value=o.value))]
    if placeholder:
        children.insert(0, rx.el.option(t(placeholder), value="", disabled=True))
    return rx.el.select(*children, value=value, on_change=on_change, data_testid=test_id,
                        aria_label=t(label) if label else None,
                        style={"padding": "0.4rem 0.5rem", "border_radius": "6px",
                               "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1),
                               "color": rx.color("gray", 12), "max_width": "100%"})


def _row(o: OrderListRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.link(o.number, href=o.href, weight="medium"),
                                rx.text(o.summary, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(o.placed, display=["none", "table-cell"]),
        rx.table.cell(status_badge(o.status, o.status_label)),
        rx.table.cell(o.total, text_align="right"),
        data_testid="order-row",
    )


def _filters() -> rx.Component:
    s = OrderListState
    status_options = [(st, N_("All states") if st == "all" else ORDER_STATUS_LABELS.get(st, humanize(st)))
                      for st in STATUS_CHOICES]
    return rx.flex(
        rx.input(placeholder=t("Order number or product"), value=s.query, on_change=s.update_query,
                 data_testid="order-search", aria_label=t("Search orders"), min_width="14rem"),
        native_select(status_options, value=s.status, on_change=s.update_status, test_id="status-filter",
                      label=N_("Order state")),
        # Each end of the range keeps its label, and the two wrap onto two lines on a phone.
        rx.flex(rx.hstack(rx.text(t("From"), size="2"),
                          rx.input(type="date", value=s.date_from, on_change=s.update_date_from,
                                   data_testid="date-from", aria_label=t("Placed from")), align="center"),
                rx.hstack(rx.text(t("to"), size="2"),
                          rx.input(type="date", value=s.date_to, on_change=s.update_date_to, data_testid="date-to",
                                   aria_label=t("Placed until")), align="center"),
                gap="0.5rem", wrap="wrap", align="center", max_width="100%"),
        rx.button(t("Clear"), variant="soft", color_scheme="gray", on_click=s.clear_filters,
                  data_testid="clear-filters"),
        gap="0.75rem", wrap="wrap", align="center", width="100%",
    )


@shell(N_("Orders"))
def orders_page() -> rx.Component:
    s = OrderListState
    return rx.vstack(
        rx.hstack(rx.text(tn("{n} order", "{n} orders", s.total), color_scheme="gray",
                          data_testid="order-count"), rx.spacer(),
                  rx.link(rx.button(rx.icon("plus", size=16), t("New order")), href="/orders/new"), width="100%"),
        _filters(),
        error_callout(s.error),
        rx.match(
            s.empty,
            ("no_orders", card(t("No orders yet"), empty_note(t("When you place an order it will appear here.")),
                               rx.link(t("Place your first order"), href="/orders/new"), icon="package",
                               test_id="orders-empty")),
            ("no_match", card(t("No orders match"),
                              empty_note(t("Try another search, another state or a wider date range.")),
                              rx.button(t("Clear filters"), variant="soft", on_click=s.clear_filters,
                                        width="fit-content"),
                              icon="search_x", test_id="orders-no-match")),
            rx.vstack(
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("Order")),
                        rx.table.column_header_cell(t("Placed"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(t("State")),
                        rx.table.column_header_cell(t("Total"), text_align="right"))),
                    rx.table.body(rx.foreach(s.rows, _row)),
                    width="100%", data_testid="orders-table",
                ),
                rx.hstack(
                    rx.button(t("Previous"), variant="soft", on_click=s.prev_page, disabled=s.page <= 1,
                              data_testid="prev-page"),
                    rx.text(t("Page {page} of {pages}", page=s.page, pages=s.pages), size="2",
                            data_testid="page-label"),
                    rx.button(t("Next"), variant="soft", on_click=s.next_page, disabled=s.page >= s.pages,
                              data_testid="next-page"),
                    align="center", justify="center", width="100%",
                ),
                width="100%",
            ),
        ),
        spacing="4", width="100%",
    )


def _draft_row(d: DraftRow) -> rx.Component:
    s = NewOrderState
    return rx.table.row(
        rx.table.cell(d.name),
        rx.table.cell(rx.cond(s.reviewing, rx.text(d.quantity),
                              rx.input(type="number", min=0, max=99, value=d.quantity.to_string(), width="5rem",
                                       on_change=lambda v: s.update_line_qty(d.variant_id, v),
                                       aria_label=t("Quantity")))),
        rx.table.cell(d.unit_price),
        rx.table.cell(d.total, text_align="right"),
        data_testid="draft-line",
    )


def _pick_item(i: PickItem) -> rx.Component:
    chosen = NewOrderState.pick_variant == i.variant_id
    return rx.el.button(
        rx.hstack(rx.vstack(rx.text(i.name, size="2", weight="medium"),
                            rx.text(i.variant, size="1", color_scheme="gray"), spacing="0", align="start"),
                  rx.spacer(),
                  rx.vstack(rx.text(i.price, size="2"), rx.text(i.stock, size="1", color_scheme="gray"),
                            spacing="0", align="end"),
                  width="100%", align="center"),
        on_click=NewOrderState.update_pick_variant(i.variant_id), type="button", role="option",
        aria_selected=rx.cond(chosen, "true", "false"), data_testid="pick-item",
        style={"width": "100%", "text_align": "left", "padding": "0.4rem 0.6rem", "cursor": "pointer",
               "border": "none", "border_bottom": f"1px solid {rx.color('gray', 4)}", "color": "inherit",
               "background": rx.cond(chosen, rx.color("accent", 4), "transparent")},
    )


def _address_option(o: Option) -> rx.Component:
    return rx.el.option(o.label, value=o.value)


@shell(N_("New order"))
def new_order_page() -> rx.Component:
    s = NewOrderState
    r = s.review
    # Until this page's own load has run, show nothing of a previous draft.
    return rx.cond(rx.State.is_hydrated, _new_order_body(s, r), rx.spinner())


def _new_order_body(s: type[NewOrderState], r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.cond(s.reorder_of != "", rx.text(t("Ordering again from {order}. Prices are today's.", order=s.reorder_of),
                                            color_scheme="gray")),
        error_callout(s.error),
        rx.cond(s.unavailable.length() > 0,
                rx.callout(rx.text(t("No longer available, so not included: {items}", items=s.unavailable.join(", "))),
                           icon="info", color_scheme="amber", width="100%")),
        rx.cond(~s.reviewing, card(
            t("Add items"),
            rx.input(rx.input.slot(rx.icon("search", size=16)), value=s.search, on_change=s.update_search,
                     placeholder=t("Search by name, size or colour"), aria_label=t("Search items"),
                     data_testid="item-search", width="100%"),
            rx.box(rx.foreach(s.matches, _pick_item), role="listbox", aria_label=t("Items"),
                   data_testid="item-results", width="100%", max_height="18rem", overflow_y="auto"),
            rx.cond(s.match_note != "", rx.text(s.match_note, size="1", color_scheme="gray")),
            rx.flex(rx.text(rx.cond(s.picked != "", s.picked, t("Choose an item above.")), size="2",
                            data_testid="picked-item", flex="1", min_width="10rem"),
                    rx.input(type="number", min=1, max=s.line_limit, value=s.pick_qty, on_change=s.update_pick_qty,
                             width="5rem", aria_label=t("Quantity"), data_testid="pick-qty"),
                    rx.button(t("Add"), on_click=s.add_line, data_testid="add-line"),
                    gap="0.5rem", wrap="wrap", align="center", width="100%"),
            rx.text(t("Up to {n} of one item per order.", n=s.line_limit), size="1", color_scheme="gray"),
            icon="shopping_bag")),
        card(t("Items"), rx.cond(
            s.draft.length() > 0,
            rx.table.root(rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Item")), rx.table.column_header_cell(t("Qty")),
                rx.table.column_header_cell(t("Price")), rx.table.column_header_cell(t("Total"), text_align="right"))),
                rx.table.body(rx.foreach(s.draft, _draft_row)), width="100%"),
            empty_note(t("Nothing in this order yet."))), icon="package"),
        card(t("Deliver to"),
             rx.cond(s.address_options.length() > 0,
                     native_select(s.address_options, value=s.address_choice, on_change=s.update_address_choice,
                                   test_id="order-address", label=N_("Delivery address")),
                     empty_note(t("Add an address to your account first."))),
             icon="map_pin"),
        rx.cond(
            s.reviewing,
            card(t("Review"),
                 rx.vstack(rx.foreach(s.review_address, lambda ln: rx.text(ln, size="2")), spacing="0"),
                 rx.divider(),
                 rx.hstack(rx.text(t("Subtotal")), rx.spacer(), rx.text(r.subtotal), width="100%"),
                 rx.hstack(rx.text(t("Shipping")), rx.spacer(), rx.text(r.shipping), width="100%"),
                 rx.hstack(rx.text(t("Included VAT")), rx.spacer(), rx.text(r.tax), width="100%"),
                 rx.hstack(rx.text(t("Total"), weight="bold"), rx.spacer(),
                           rx.text(r.total, weight="bold", data_testid="review-total"), width="100%"),
                 rx.text(rx.cond(s.pay_online,
                                 t("Pay now online, or place the order and pay by bank transfer; we ship when the "
                                   "payment arrives."),
                                 t("You pay by bank transfer; we ship when the payment arrives.")), size="1",
                         color_scheme="gray"),
                 rx.hstack(rx.button(t("Change"), variant="soft", on_click=s.edit),
                           rx.button(t("Place order"), variant=rx.cond(s.pay_online, "soft", "solid"),
                                     on_click=s.place_order, data_testid="place-order"),
                           rx.cond(s.pay_online,
                                   rx.button(rx.icon("credit_card", size=16), t("Place order and pay now"),
                                             on_click=s.place_order_and_pay, data_testid="place-and-pay")),
                           wrap="wrap"),
                 icon="clipboard_check", test_id="order-review"),
            rx.button(t("Review order"), on_click=s.review_order, disabled=s.draft.length() == 0,
                      data_testid="review-order"),
        ),
        rx.link(t("← All orders"), href="/orders", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(orders_page, route="/orders", title=N_("Orders"), on_load=OrderListState.load)
    app.add_page(new_order_page, route="/orders/new", title=N_("New order"), on_load=NewOrderState.load)
    order_placed.register(app)
