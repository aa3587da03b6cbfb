"""Order confirmation: shown right after "Place order" (and reachable again from the email)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, error_callout
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.pages.billing import billing_badge
from portal.state.order_placed import OrderPlacedState, PlacedLine


def _line(ln: PlacedLine) -> rx.Component:
    return rx.hstack(rx.text(ln.quantity, " × ", ln.name, size="2"), rx.spacer(), rx.text(ln.total, size="2"),
                     width="100%", data_testid="placed-line")


def _sum(label: str, value: rx.Var, strong: bool = False) -> rx.Component:
    return rx.hstack(rx.text(label, color_scheme="gray", size="2"), rx.spacer(),
                     rx.text(value, size="2", weight="bold" if strong else "regular"), width="100%")


@shell(N_("Order placed"))
def order_placed_page() -> rx.Component:
    s = OrderPlacedState
    v = s.view
    return rx.vstack(
        error_callout(s.error),
        rx.cond(rx.State.is_hydrated & s.loaded, rx.vstack(
            rx.callout(rx.text(t("Thank you! Your order"), " ", rx.text.strong(v.number), " ",
                               t("is placed. We sent a confirmation to {email}.", email=v.email)),
                       icon="circle_check", color_scheme="green", width="100%", data_testid="order-placed"),
            card(t("Pay by bank transfer"), rx.cond(
                s.transfer.length() > 0,
                rx.vstack(rx.text(t("We ship as soon as your payment arrives. Transfer the amount to:"), size="2"),
                          rx.box(rx.foreach(s.transfer, lambda row: rx.text(row, size="2", font_family="monospace")),
                                 data_testid="transfer-details"),
                          rx.text(t("Quote the reference exactly, so we can match your payment. Or"), " ",
                                  rx.link(t("pay now by card"), href=v.invoice_href), " ", t("on the invoice page."),
                                  size="2", color_scheme="gray"),
                          spacing="2", width="100%"),
                rx.text(t("Nothing is left to pay on this order."), size="2", color_scheme="gray")),
                icon="landmark", test_id="payment-instructions"),
            card(t("Invoice"), rx.cond(
                v.invoice_number != "",
                rx.hstack(rx.link(v.invoice_number, href=v.invoice_href, data_testid="placed-invoice"),
                          billing_badge(v.invoice_status, v.invoice_status_label), rx.spacer(),
                          rx.cond(v.due != "", rx.text(t("Due {date}", date=v.due), size="2", color_scheme="gray")),
                          align="center", width="100%", wrap="wrap"),
                rx.text(t("No invoice yet."), size="2", color_scheme="gray")), icon="receipt"),
            card(t("Your order"),
                 rx.vstack(rx.foreach(s.lines, _line), width="100%"), rx.divider(),
                 _sum(t("Subtotal"), v.subtotal), _sum(t("Shipping"), v.shipping), _sum(t("Included VAT"), v.tax),
                 _sum(t("Total"), v.total, strong=True), rx.divider(),
                 rx.text(t("Delivery to"), size="2", weight="medium"),
                 rx.vstack(rx.foreach(s.address, lambda ln: rx.text(ln, size="2")), spacing="0"),
                 icon="package", test_id="placed-summary"),
            rx.hstack(rx.link(t("Open the order"), href=v.order_href, data_testid="placed-order-link"),
                      rx.link(t("All orders"), href="/orders"), spacing="4"),
            spacing="4", width="100%",
        ), rx.cond(s.error == "", rx.spinner())),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(order_placed_page, route="/orders/[id]/placed", title=N_("Order placed"),
                 on_load=OrderPlacedState.load)
