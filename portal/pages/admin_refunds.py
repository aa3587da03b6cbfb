"""Admin: refunds through Stripe (returns received, and any part of a card payment)."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, empty_note, error_callout, notice_callout
from portal.i18n import N_, t
from portal.layouts.shell import shell
from portal.state.admin_refunds import AdminRefundsState, PaymentView, RefundView, ReturnView

REFUND_COLORS = {"pending": "blue", "succeeded": "green", "failed": "red", "canceled": "gray"}


def _return_row(r: ReturnView) -> rx.Component:
    return rx.hstack(
        rx.text(r.number, weight="medium"), rx.text(r.customer, size="2"), rx.badge(r.status, color_scheme="gray"),
        rx.spacer(), rx.text(r.amount),
        rx.button(t("Received: refund"), size="1", on_click=AdminRefundsState.refund_return(r.id),
                  data_testid="refund-return"),
        width="100%", align="center", wrap="wrap", data_testid="return-to-refund",
    )


def _refund_form() -> rx.Component:
    s = AdminRefundsState
    return rx.hstack(
        rx.vstack(
            rx.input(value=s.amount, on_change=s.set_amount, placeholder="25.00", aria_label=t("Amount to refund"),
                     data_testid="refund-amount", width="8rem"),
            rx.cond(s.amount_error != "", rx.text(s.amount_error, size="1", color_scheme="red", role="alert",
                                                  data_testid="refund-amount-error")),
            spacing="1"),
        rx.button(t("Refund"), size="2", color_scheme="red", on_click=s.refund_payment, data_testid="confirm-refund"),
        align="start",
    )


def _payment_row(p: PaymentView) -> rx.Component:
    s = AdminRefundsState
    return rx.vstack(
        rx.hstack(
            rx.text(p.customer, weight="medium"), rx.text(p.invoice, size="2"), rx.text(p.method, size="2"),
            rx.spacer(), rx.text(p.amount),
            rx.text(t("refundable {amount}", amount=p.refundable), size="1", color_scheme="gray"),
            rx.cond(p.can_refund, rx.button(t("Refund…"), size="1", variant="soft", on_click=s.choose_payment(p.id),
                                            data_testid="open-refund")),
            width="100%", align="center", wrap="wrap"),
        rx.cond(s.open_payment == p.id, _refund_form()),
        width="100%", data_testid="payment-to-refund",
    )


def _refund_row(r: RefundView) -> rx.Component:
    return rx.hstack(
        rx.text(r.customer, size="2"), rx.text(r.note, size="1", color_scheme="gray"), rx.spacer(),
        rx.text(r.amount, size="2"),
        rx.cond(r.unsent, rx.button(t("Send again"), size="1", variant="soft",
                                    on_click=AdminRefundsState.send_again(r.id), data_testid="send-again")),
        rx.badge(r.status_label, color_scheme=rx.match(r.status, *REFUND_COLORS.items(), "gray")),
        width="100%", align="center", data_testid="refund-row",
    )


@shell(N_("Refunds"))
def refunds_page() -> rx.Component:
    s = AdminRefundsState
    return rx.vstack(
        notice_callout(s.notice),
        error_callout(s.error),
        card(t("Returns to refund"), rx.cond(s.returns.length() > 0, rx.foreach(s.returns, _return_row),
                                          empty_note(t("No return waits for a refund to a card."))),
             icon="undo_2"),
        card(t("Card payments"), rx.cond(s.payments.length() > 0, rx.foreach(s.payments, _payment_row),
                                      empty_note(t("No payment through Stripe yet."))),
             icon="credit_card"),
        card(t("Refunds"), rx.cond(s.refunds.length() > 0, rx.foreach(s.refunds, _refund_row),
                                empty_note(t("No refund yet."))), icon="list"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(refunds_page, route="/admin/refunds", title=N_("Refunds"), on_load=AdminRefundsState.load)
