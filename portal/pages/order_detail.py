"""Order detail: everything about one order, what the customer may do with it now (and why
not, when not), and its history in time order. Refreshes live while open."""

from __future__ import annotations

import reflex as rx

from portal.components.common import (
    card,
    client_path,
    download_link,
    empty_note,
    error_callout,
    notice_callout,
    status_badge,
    upload_area,
)
from portal.components.support import help_link
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.pages.orders import native_select
from portal.state.order_detail import (
    CANCEL_REASON_LABELS,
    RETURN_REASON_LABELS,
    DocumentRow,
    EventRow,
    LineRow,
    OrderDetailState,
    PaymentRow,
    PhotoRow,
    ReturnRow,
    ShipmentRow,
)

S = OrderDetailState


def _line(ln: LineRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(ln.name, weight="medium"), rx.text(ln.variant, size="1", color_scheme="gray"),
                                rx.cond(ln.returned > 0, rx.text(t("{n} returned", n=ln.returned), size="1",
                                                                 color_scheme="orange")),
                                spacing="0")),
        rx.table.cell(ln.quantity),
        rx.table.cell(ln.unit_price, display=["none", "table-cell"]),
        rx.table.cell(ln.total, text_align="right"),
        data_testid="order-line",
    )


def _total(label: str, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.hstack(rx.text(label, color_scheme="gray"), rx.spacer(),
                     rx.text(value, weight="bold" if strong else "regular"), width="100%")


def _action(label: str, icon: str, panel: str, allowed: rx.Var, why: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.button(rx.icon(icon, size=16), label, variant="soft", disabled=~allowed,
                  on_click=S.open_panel(panel), data_testid=f"action-{panel}"),
        rx.cond(~allowed, rx.text(why, size="1", color_scheme="gray", data_testid=f"why-{panel}",
                                  max_width="16rem")),
        spacing="1", align="start",
    )


def _panel_frame(title: str, test_id: str, *children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.heading(title, size="3"), rx.spacer(),
                  rx.icon_button(rx.icon("x", size=16), variant="ghost", on_click=S.close_panel,
                                 aria_label=t("Close"))),
        error_callout(S.action_error), *children, spacing="3", width="100%"), width="100%", data_testid=test_id)


def _cancel_panel() -> rx.Component:
    return _panel_frame(
        t("Cancel this order"), "cancel-panel",
        rx.text(t("Why are you cancelling? Anything you paid is refunded to your original payment method."), size="2"),
        native_select(list(CANCEL_REASON_LABELS.items()), value=S.cancel_reason, on_change=S.update_cancel_reason,
                      test_id="cancel-reason", placeholder=N_("Choose a reason"), label=N_("Reason")),
        rx.button(t("Cancel order"), color_scheme="red", on_click=S.cancel_order, data_testid="confirm-cancel"),
    )


def _field(label: str, field: str, value: rx.Var) -> rx.Component:
    return rx.vstack(rx.text(label, size="1"),
                     rx.input(value=value, on_change=lambda v: S.update_address_field(field, v),
                              data_testid=f"addr-{field}", max_length=200),
                     spacing="1", width="100%")


def _address_panel() -> rx.Component:
    return _panel_frame(
        t("Change the delivery address"), "address-panel",
        rx.el.select(
            rx.el.option(t("Choose an address"), value="", disabled=True),
            rx.foreach(S.address_options, lambda o: rx.el.option(o.label, value=o.value)),
            rx.el.option(t("A new address…"), value="new"),
            value=S.address_choice, on_change=S.update_address_choice, data_testid="address-choice",
            aria_label=t("Address"),
        ),
        rx.cond(S.address_choice == "new", rx.grid(
            _field(t("Name"), "name", S.addr_name), _field(t("Street and number"), "line1", S.addr_line1),
            _field(t("Address line 2 (optional)"), "line2", S.addr_line2),
            _field(t("Town or city"), "city", S.addr_city),
            _field(t("Postcode"), "postal_code", S.addr_postal_code),
            _field(t("Country (two letters)"), "country", S.addr_country),
            columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%")),
        rx.button(t("Save delivery address"), on_click=S.change_address, data_testid="confirm-address"),
    )


def _variant_panel() -> rx.Component:
    return _panel_frame(
        t("Change size or colour"), "variant-panel",
        native_select(S.variant_lines, value=S.variant_line, on_change=S.update_variant_line, test_id="variant-line",
                      placeholder=N_("Choose the item"), label=N_("Item")),
        rx.cond(S.variant_options.length() > 0,
                native_select(S.variant_options, value=S.variant_choice, on_change=S.update_variant_choice,
                              test_id="variant-choice", placeholder=N_("Choose the new size or colour"),
                              label=N_("New size or colour"))),
        rx.button(t("Change item"), on_click=S.change_variant, data_testid="confirm-variant"),
    )


def _window_panel() -> rx.Component:
    return _panel_frame(
        t("Choose a delivery window"), "window-panel",
        rx.text(t("{carrier} offers these windows.", carrier=S.window_carrier), size="2"),
        native_select(S.window_options, value=S.window_choice, on_change=S.update_window_choice,
                      test_id="window-choice", placeholder=N_("Choose a window"), label=N_("Delivery window")),
        rx.button(t("Save window"), on_click=S.choose_window, data_testid="confirm-window"),
    )


def _return_line(ln: LineRow) -> rx.Component:
    return rx.cond(ln.returnable > 0, rx.hstack(
        rx.text(ln.name, " (", ln.variant, ")", size="2"), rx.spacer(),
        rx.input(type="number", min=0, max=ln.returnable, width="5rem", placeholder="0",
                 on_change=lambda v: S.update_return_qty(ln.id, v), aria_label=t("Quantity to return"),
                 data_testid="return-qty"),
        rx.text(t("of {n}", n=ln.returnable), size="1", color_scheme="gray"),
        align="center", width="100%"))


def _photo(p: PhotoRow) -> rx.Component:
    return rx.hstack(rx.icon("image", size=14), rx.text(p.name, " · ", p.size, size="1"),
                     rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost",
                                    on_click=S.remove_photo(p.id), aria_label=t("Remove photo")),
                     align="center", data_testid="return-photo")


def _return_panel() -> rx.Component:
    return _panel_frame(
        t("Start a return"), "return-panel",
        rx.text(t("Choose what you are sending back."), size="2"),
        rx.vstack(rx.foreach(S.lines, _return_line), width="100%", spacing="2"),
        native_select(list(RETURN_REASON_LABELS.items()), value=S.return_reason, on_change=S.update_return_reason,
                      test_id="return-reason", placeholder=N_("Why are you returning it?"), label=N_("Reason")),
        rx.text_area(value=S.return_note, on_change=S.update_return_note,
                     placeholder=t("Anything else we should know (optional)"), max_length=500,
                     data_testid="return-note", width="100%"),
        rx.text(t("Refund to"), size="2", weight="medium"),
        rx.radio_group.root(
            rx.vstack(
                rx.hstack(rx.radio_group.item(value="original_payment", data_testid="refund-original"),
                          rx.text(t("My original payment method"), size="2"), align="center"),
                rx.hstack(rx.radio_group.item(value="store_credit", data_testid="refund-credit"),
                          rx.text(t("Store credit, with a bonus"), size="2"), align="center"),
            ),
            value=S.refund_method, on_change=S.update_refund_method,
        ),
        rx.vstack(
            rx.text(t("Photos (optional): JPEG, PNG or WebP, up to 5 MB each."), size="1", color_scheme="gray"),
            upload_area(rx.el.label(rx.upload(
                rx.button(rx.icon("camera", size=14), t("Choose photos"), variant="soft", size="1"),
                id="return_photos", multiple=True, max_files=4, border="none", padding="0",
                accept={"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]},
                on_drop=S.upload_photos(rx.upload_files(upload_id="return_photos")),
                data_testid="return-photos-upload"))),
            rx.foreach(S.photos, _photo),
            spacing="1",
        ),
        rx.cond(S.return_quote != "", rx.callout(
            rx.vstack(rx.text(t("You will get"), " ", rx.text.strong(S.return_quote, data_testid="return-quote"), "."),
                      rx.cond(S.return_bonus_note != "", rx.text(S.return_bonus_note, size="1")), spacing="1"),
            icon="coins", color_scheme="green", width="100%")),
        rx.button(t("Submit return"), on_click=S.submit_return, disabled=S.return_quote == "",
                  data_testid="confirm-return"),
    )


def _payment(p: PaymentRow) -> rx.Component:
    return rx.hstack(rx.text(p.method, size="2"), rx.spacer(), rx.text(p.amount, " · ", p.status, " · ", p.when,
                                                                       size="2", color_scheme="gray"), width="100%")


def _shipment(s: ShipmentRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(s.carrier, " · ", s.tracking_number, size="2", weight="medium"),
                  rx.text(s.status,
                          rx.cond(s.expected != "", rx.fragment(" · ", t("expected {date}", date=s.expected))),
                          size="1", color_scheme="gray"), spacing="0"),
        rx.spacer(), rx.link(t("Track"), href=s.href, size="2", data_testid="track-link"),
        width="100%", data_testid="shipment-row",
    )


def _document(d: DocumentRow) -> rx.Component:
    title = rx.cond(d.href != "", download_link(rx.text(d.title, size="2"), d.href, test_id="order-document"),
                    rx.text(d.title, size="2"))
    return rx.hstack(rx.icon("file_text", size=14), title, rx.spacer(),
                     rx.text(d.kind, " · ", d.created, size="1", color_scheme="gray"), width="100%")


def _return(r: ReturnRow) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.text(r.number, weight="medium", size="2"), rx.badge(r.status_label, variant="soft"),
                  rx.spacer(), rx.text(r.amount, " · ", r.method, size="2"), width="100%", wrap="wrap"),
        rx.text(r.contents, size="1", color_scheme="gray"),
        rx.hstack(rx.text(t("Started {date}", date=r.created), size="1", color_scheme="gray"),
                  rx.cond(r.photos > 0, rx.text(" · ", tn("{n} photo", "{n} photos", r.photos), size="1",
                                                 color_scheme="gray")),
                  rx.spacer(),
                  help_link("return", r.id, test_id="return-help"),
                  rx.cond(r.label_href != "",
                          download_link(rx.hstack(rx.icon("download", size=14),
                                                  rx.text(t("Return label (PDF)"), size="2"),
                                                  spacing="1", align="center", color=rx.color("accent", 11)),
                                        r.label_href, test_id="return-label")),
                  rx.cond(r.can_cancel & (S.cancelling_return != r.number),
                          rx.button(t("Cancel this return"), size="1", variant="ghost", color_scheme="red",
                                    on_click=S.ask_cancel_return(r.id), data_testid="cancel-return"))),
        rx.cond(S.cancelling_return == r.number,
                rx.vstack(
                    error_callout(S.action_error),
                    rx.hstack(rx.text(t("Cancel return {number}? Don't send the parcel if you do.", number=r.number),
                                      size="2"),
                              rx.spacer(),
                              rx.button(t("Keep it"), size="1", variant="soft", on_click=S.keep_return),
                              rx.button(t("Yes, cancel the return"), size="1", color_scheme="red",
                                        on_click=S.cancel_return, data_testid="confirm-cancel-return"),
                              width="100%", align="center", wrap="wrap"),
                    width="100%", spacing="1", data_testid="cancel-return-confirm")),
        width="100%", spacing="1", padding_y="0.4rem", border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="return-row",
    )


def _event(e: EventRow) -> rx.Component:
    return rx.hstack(
        rx.box(width="8px", height="8px", border_radius="50%", background_color=rx.color("accent", 9),
               margin_top="0.4rem", flex_shrink="0"),
        rx.vstack(rx.text(e.message, size="2"),
                  rx.text(e.when, rx.cond(e.actor != "", " · " + e.actor.to(str), ""), size="1", color_scheme="gray"),
                  spacing="0"),
        align="start", width="100%", data_testid="timeline-event",
    )


def _address_block(title: str, lines: rx.Var) -> rx.Component:
    return rx.vstack(rx.text(title, size="1", color_scheme="gray", weight="medium"),
                     rx.foreach(lines, lambda ln: rx.text(ln, size="2")), spacing="0", align="start")


def _actions() -> rx.Component:
    a = S.actions
    return card(
        t("What you can do"),
        rx.flex(
            _action(t("Cancel order"), "circle_x", "cancel", a.cancel, a.cancel_why),
            _action(t("Change address"), "map_pin", "address", a.change_address, a.change_address_why),
            _action(t("Change size or colour"), "shirt", "variant", a.change_variant, a.change_variant_why),
            _action(t("Delivery window"), "clock", "window", a.delivery_window, a.delivery_window_why),
            _action(t("Start a return"), "undo_2", "return", a.return_, a.return_why),
            rx.cond(a.reorder, rx.link(rx.button(rx.icon("repeat", size=16), t("Order again"), variant="soft"),
                                       href="/orders/new?from=" + S.order.id.to_string(), data_testid="reorder")),
            gap="1rem", wrap="wrap", align="start",
        ),
        rx.match(S.panel, ("cancel", _cancel_panel()), ("address", _address_panel()),
                 ("variant", _variant_panel()), ("window", _window_panel()), ("return", _return_panel()),
                 rx.fragment()),
        icon="wand", test_id="order-actions",
    )


def _route_order_id() -> rx.Var:
    # The dynamic route argument; the ticket form checks the order is the customer's own.
    return rx.State.router.page.params.get("id", "")  # type: ignore[attr-defined]


@shell(N_("Order"))
def order_page() -> rx.Component:
    o = S.order
    return rx.vstack(
        error_callout(S.error),
        rx.cond(
            # Until this page's own load has run, show nothing rather than the previous order.
            rx.State.is_hydrated & (o.number != "") & (client_path() == "/orders/" + o.id.to_string()),
            rx.vstack(
                rx.hstack(rx.heading(o.number, size="5", data_testid="order-number"),
                          rx.box(status_badge(o.status, o.status_label), data_testid="order-status"),
                          help_link("order", _route_order_id()), rx.spacer(),
                          rx.text(t("Placed {date}", date=o.placed), color_scheme="gray", size="2"),
                          align="center", width="100%", wrap="wrap"),
                rx.box(notice_callout(S.notice), data_testid="order-notice", width="100%"),
                _actions(),
                card(t("Items"), rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("Item")), rx.table.column_header_cell(t("Qty")),
                        rx.table.column_header_cell(t("Price"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(t("Total"), text_align="right"))),
                    rx.table.body(rx.foreach(S.lines, _line)),
                    width="100%"), icon="package"),
                rx.grid(
                    card(t("Totals"), _total(t("Subtotal"), o.subtotal), _total(t("Shipping"), o.shipping),
                         rx.cond(o.has_discount, _total(t("Discount"), o.discount)),
                         _total(t("Included VAT"), o.tax), rx.divider(), _total(t("Total"), o.total, strong=True),
                         icon="receipt"),
                    card(t("Addresses"),
                         rx.flex(_address_block(t("Delivery"), S.shipping_address),
                                 _address_block(t("Billing"), S.billing_address), gap="2rem", wrap="wrap"),
                         rx.cond(o.delivery_window != "",
                                 rx.text(t("Delivery window: {window}", window=o.delivery_window), size="2",
                                         data_testid="window")),
                         icon="map_pin", test_id="order-addresses"),
                    columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
                ),
                card(t("Payments"), rx.cond(S.payments.length() > 0, rx.vstack(rx.foreach(S.payments, _payment),
                                                                            width="100%"),
                                         empty_note(t("No payment yet."))), icon="credit_card"),
                card(t("Shipments"), rx.cond(S.shipments.length() > 0,
                                          rx.vstack(rx.foreach(S.shipments, _shipment), width="100%"),
                                          empty_note(t("Not shipped yet."))), icon="truck", test_id="order-shipments"),
                card(t("Returns"),
                     rx.cond(o.return_deadline != "",
                             rx.text(t("You can return delivered items until {date}.", date=o.return_deadline),
                                     size="2", color_scheme="gray")),
                     rx.cond(S.returns.length() > 0, rx.vstack(rx.foreach(S.returns, _return), width="100%"),
                             empty_note(t("No returns."))), icon="undo_2", test_id="order-returns"),
                card(t("Documents"), rx.cond(S.documents.length() > 0,
                                          rx.vstack(rx.foreach(S.documents, _document), width="100%"),
                                          empty_note(t("No documents for this order."))), icon="files"),
                card(t("History"), rx.vstack(rx.foreach(S.timeline, _event), spacing="3", width="100%"),
                     icon="history", test_id="order-timeline"),
                spacing="4", width="100%",
            ),
        ),
        rx.link(t("← All orders"), href="/orders", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(order_page, route="/orders/[id]", title=N_("Order"), on_load=OrderDetailState.load)
