"""Billing: balance and what is due, invoices and payments, statements, cards and charts; one invoice."""

from __future__ import annotations

import reflex as rx

from portal.components.common import card, download_link, empty_note, error_callout, form, notice_callout
from portal.components.support import help_link
from portal.i18n import N_, t, tn
from portal.layouts.shell import shell
from portal.state.billing import (
    INVOICE_KINDS,
    INVOICE_STATUSES,
    PAYMENT_STATUSES,
    BillingState,
    CardRow,
    CreditRow,
    InvoiceRow,
    PaymentRow,
)
from portal.state.invoice_detail import AttemptRow, InvoiceState, LineRow, SavedCardRow

STATUS_CHOICES = [("all", N_("All statuses")), ("open", N_("Due")), ("overdue", N_("Overdue")), ("paid", N_("Paid")),
                  ("void", N_("Void"))]
PAYMENT_CHOICES = [("all", N_("All payments")), ("succeeded", N_("Succeeded")), ("failed", N_("Failed")),
                   ("pending", N_("Pending")), ("processing", N_("Processing")), ("refunded", N_("Refunded"))]
KIND_CHOICES = [("all", N_("Invoices and credit notes")), ("invoice", N_("Invoices")),
                ("credit_note", N_("Credit notes"))]
assert {v for v, _ in PAYMENT_CHOICES} == set(PAYMENT_STATUSES)
assert {v for v, _ in STATUS_CHOICES} == set(INVOICE_STATUSES) and {v for v, _ in KIND_CHOICES} == set(INVOICE_KINDS)

BILLING_COLORS = {"open": "amber", "overdue": "red", "paid": "green", "void": "gray", "succeeded": "green",
                  "failed": "red", "pending": "blue", "processing": "blue", "refunded": "iris"}


def billing_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(label, color_scheme=rx.match(status, *list(BILLING_COLORS.items()), "gray"), variant="soft",
                    radius="full", data_testid="status-badge")


def _stat(label: str | rx.Var, value: rx.Var, test_id: str, sub: rx.Component | None = None) -> rx.Component:
    return rx.card(rx.vstack(rx.text(label, size="2", color_scheme="gray"),
                             rx.heading(value, size="6", data_testid=test_id), sub or rx.fragment(), spacing="1"),
                   width="100%")


def _due_row(row: InvoiceRow) -> rx.Component:
    return rx.hstack(
        rx.link(row.number, href=row.href, weight="medium"),
        billing_badge(row.status, row.status_label),
        rx.spacer(),
        rx.text(t("Due {date}", date=row.due), size="2",
                color=rx.cond(row.overdue, rx.color("red", 11), rx.color("gray", 11))),
        rx.text(row.balance, weight="bold"),
        align="center", width="100%", wrap="wrap", data_testid="due-row",
    )


def _invoice_row(row: InvoiceRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.number, href=row.href, weight="medium")),
        rx.table.cell(row.kind, display=["none", "table-cell"]),
        rx.table.cell(row.issued, display=["none", "table-cell"]),
        rx.table.cell(billing_badge(row.status, row.status_label)),
        rx.table.cell(row.total, text_align="right"),
        rx.table.cell(download_link(rx.icon("download", size=16), row.pdf_url, test_id="invoice-row-pdf",
                                    aria_label=t("Download PDF"), color=rx.color("accent", 11)), text_align="right"),
        data_testid="invoice-row",
    )


def _payment_row(row: PaymentRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.date),
        rx.table.cell(row.invoice, display=["none", "table-cell"]),
        rx.table.cell(row.method, display=["none", "table-cell"]),
        rx.table.cell(rx.vstack(billing_badge(row.status, row.status_label),
                                rx.cond(row.reason != "", rx.text(row.reason, size="1", color_scheme="red")),
                                rx.cond(row.refunds != "", rx.text(row.refunds, size="1", data_testid="refund-note")),
                                spacing="1")),
        rx.table.cell(row.amount, text_align="right"),
        rx.table.cell(rx.cond(row.receipt_url != "",
                              download_link(rx.text(t("Receipt"), size="2", color=rx.color("accent", 11)),
                                            row.receipt_url, test_id="receipt-pdf")),
                      text_align="right"),
        data_testid="payment-row",
    )


def _pager(page: rx.Var, pages: rx.Var, go: rx.EventHandler, test_id: str) -> rx.Component:
    return rx.hstack(
        rx.button(rx.icon("chevron_left", size=16), t("Previous"), variant="soft", size="1",
                  disabled=page <= 1, on_click=go(page - 1)),
        rx.text(t("Page {page} of {pages}", page=page, pages=pages), size="2", data_testid=test_id),
        rx.button(t("Next"), rx.icon("chevron_right", size=16), variant="soft", size="1",
                  disabled=page >= pages, on_click=go(page + 1)),
        align="center", spacing="3",
    )


def _filters() -> rx.Component:
    return form(
        rx.hstack(
            rx.input(name="query", placeholder=t("Number or item"), default_value=BillingState.query, max_length=100,
                     aria_label=t("Search invoices"), data_testid="invoice-search"),
            rx.select.root(rx.select.trigger(aria_label=t("Status")), rx.select.content(
                *[rx.select.item(t(label), value=value) for value, label in STATUS_CHOICES]),
                name="status", default_value="all"),
            rx.select.root(rx.select.trigger(aria_label=t("Kind")), rx.select.content(
                *[rx.select.item(t(label), value=value) for value, label in KIND_CHOICES]),
                name="kind", default_value="all"),
            rx.input(type="date", name="date_from", default_value=BillingState.date_from, aria_label=t("Issued from")),
            rx.input(type="date", name="date_to", default_value=BillingState.date_to, aria_label=t("Issued until")),
            rx.button(t("Filter"), type="submit", data_testid="apply-filters"),
            rx.button(t("Clear"), type="button", variant="ghost", on_click=BillingState.clear_filters),
            wrap="wrap", spacing="2", align="center",
        ),
        on_submit=BillingState.apply_filters, reset_on_submit=False, width="100%",
    )


def _card_row(row: CardRow) -> rx.Component:
    return rx.hstack(
        rx.icon("credit_card", size=18),
        rx.text(row.label, weight="medium"),
        rx.text(t("expires {date}", date=row.expiry), size="2",
                color=rx.cond(row.expired, rx.color("red", 11), rx.color("gray", 11))),
        rx.cond(row.is_default, rx.badge(t("Default"), variant="soft")),
        rx.spacer(),
        rx.cond(~row.is_default, rx.button(t("Make default"), size="1", variant="soft",
                                           on_click=BillingState.make_default_card(row.id))),
        rx.button(t("Remove"), size="1", variant="ghost", color_scheme="red",
                  on_click=BillingState.remove_card(row.id)),
        align="center", width="100%", wrap="wrap", data_testid="card-row",
    )


def _credit_row(row: CreditRow) -> rx.Component:
    return rx.hstack(rx.text(row.date, size="2", color_scheme="gray", min_width="6rem"), rx.text(row.reason, size="2"),
                     rx.spacer(), rx.text(row.amount, weight="medium"), width="100%")


def _charts() -> rx.Component:
    spending = rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="month"),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="amount", name=t("Paid (€)"), fill=rx.color("accent", 9)),
        data=BillingState.spending, width="100%", height=220,
    )
    statuses = rx.recharts.bar_chart(
        rx.recharts.x_axis(data_key="status"),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="count", name=t("Invoices"), fill=rx.color("iris", 9)),
        data=BillingState.by_status, width="100%", height=220,
    )
    return rx.grid(card(t("Spending by month"), spending, icon="chart_column", test_id="chart-spending"),
                   card(t("Invoices by status"), statuses, icon="chart_bar", test_id="chart-status"),
                   columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%")


@shell(N_("Billing"))
def billing_page() -> rx.Component:
    b = BillingState.balance
    return rx.vstack(
        error_callout(BillingState.error),
        notice_callout(BillingState.notice),
        rx.grid(
            _stat(t("Due now"), b.due, "billing-due",
                  rx.text(rx.cond(b.next_due != "",
                                  tn("{n} open invoice · next due {date}", "{n} open invoices · next due {date}",
                                     b.open_invoices, date=b.next_due),
                                  tn("{n} open invoice", "{n} open invoices", b.open_invoices)),
                          size="1", color_scheme="gray")),
            _stat(t("Overdue"), b.overdue, "billing-overdue",
                  rx.cond(b.has_overdue, rx.text(tn("{n} invoice past their due date",
                                                    "{n} invoices past their due date", b.overdue_invoices),
                                                 size="1", color_scheme="red"))),
            _stat(t("Store credit"), b.store_credit, "billing-credit"),
            columns=rx.breakpoints(initial="1", sm="3"), spacing="4", width="100%",
        ),
        card(t("What is due"), rx.cond(BillingState.due.length() > 0, rx.vstack(rx.foreach(BillingState.due, _due_row),
                                                                              width="100%"),
                                    empty_note(t("Nothing is due. Thank you!"))), icon="calendar_clock",
             test_id="billing-due-list"),
        card(t("Invoices and credit notes"),
             _filters(),
             rx.cond(BillingState.filter_error != "", rx.text(BillingState.filter_error, color_scheme="red",
                                                              size="2", role="alert")),
             rx.cond(BillingState.invoices.length() > 0,
                     rx.table.root(
                         rx.table.header(rx.table.row(
                             rx.table.column_header_cell(t("Number")),
                             rx.table.column_header_cell(t("Kind"), display=["none", "table-cell"]),
                             rx.table.column_header_cell(t("Issued"), display=["none", "table-cell"]),
                             rx.table.column_header_cell(t("Status")),
                             rx.table.column_header_cell(t("Total"), text_align="right"),
                             rx.table.column_header_cell(t("PDF"), text_align="right"))),
                         rx.table.body(rx.foreach(BillingState.invoices, _invoice_row)), width="100%"),
                     empty_note(t("No invoices match."))),
             rx.hstack(rx.text(t("{total} in total", total=BillingState.invoice_total), size="2", color_scheme="gray"),
                       rx.spacer(),
                       _pager(BillingState.page, BillingState.pages, BillingState.go_to_page, "invoice-page"),
                       width="100%", align="center"),
             icon="file_text", test_id="billing-invoices"),
        card(t("Payments"),
             rx.hstack(
                 rx.select.root(rx.select.trigger(aria_label=t("Payment status")), rx.select.content(
                     *[rx.select.item(t(label), value=value) for value, label in PAYMENT_CHOICES]),
                     value=BillingState.payment_status, on_change=BillingState.filter_payments),
                 rx.cond((BillingState.date_from != "") | (BillingState.date_to != ""),
                         rx.text(t("Dates from the filter above apply here too."), size="1", color_scheme="gray")),
                 align="center", spacing="3", wrap="wrap"),
             rx.cond(BillingState.payments.length() > 0,
                     rx.table.root(
                         rx.table.header(rx.table.row(
                             rx.table.column_header_cell(t("Date")),
                             rx.table.column_header_cell(t("Invoice"), display=["none", "table-cell"]),
                             rx.table.column_header_cell(t("Method"), display=["none", "table-cell"]),
                             rx.table.column_header_cell(t("Status")),
                             rx.table.column_header_cell(t("Amount"), text_align="right"),
                             rx.table.column_header_cell("", text_align="right"))),
                         rx.table.body(rx.foreach(BillingState.payments, _payment_row)), width="100%"),
                     empty_note(t("No payments yet."))),
             rx.hstack(download_link(rx.button(rx.icon("sheet", size=16), t("Export payment history (CSV)"),
                                               variant="soft", size="2"), BillingState.csv_url, test_id="export-csv"),
                       rx.spacer(),
                       _pager(BillingState.payment_page, BillingState.payment_pages, BillingState.go_to_payment_page,
                              "payment-page"), width="100%", align="center", wrap="wrap"),
             icon="wallet", test_id="billing-payments"),
        rx.grid(
            card(t("Statement"),
                 rx.text(t("Every invoice, credit note and payment in a period, with the running balance."), size="2",
                         color_scheme="gray"),
                 rx.hstack(rx.input(type="date", value=BillingState.statement_from, aria_label=t("Statement from"),
                                    on_change=BillingState.update_statement_from),
                           rx.input(type="date", value=BillingState.statement_to, aria_label=t("Statement until"),
                                    on_change=BillingState.update_statement_to), wrap="wrap"),
                 rx.cond(BillingState.statement_error != "",
                         rx.text(BillingState.statement_error, color_scheme="red", size="2", role="alert"),
                         download_link(rx.button(rx.icon("download", size=16), t("Download statement (PDF)"),
                                                 size="2"), BillingState.statement_url, test_id="statement-link")),
                 icon="scroll_text"),
            card(t("Store credit"),
                 rx.cond(BillingState.credits.length() > 0,
                         rx.vstack(rx.foreach(BillingState.credits, _credit_row), width="100%"),
                         empty_note(t("No store credit. Returns refunded as store credit appear here."))),
                 icon="gift"),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        card(t("Saved cards"),
             rx.cond(BillingState.cards.length() > 0, rx.vstack(rx.foreach(BillingState.cards, _card_row),
                                                                 width="100%"),
                     empty_note(t("No saved cards."))),
             rx.text(t("We keep only the card's brand, last four digits, expiry and the payment provider's token."),
                     size="1", color_scheme="gray"),
             icon="credit_card", test_id="billing-cards",
             action=rx.button(rx.icon("plus", size=16), t("Add a card"), size="2", variant="soft",
                              on_click=BillingState.add_card, data_testid="add-card")),
        _charts(),
        spacing="4", width="100%",
    )


def _line(ln: LineRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(ln.description), rx.table.cell(ln.quantity),
        rx.table.cell(ln.unit_price, display=["none", "table-cell"]),
        rx.table.cell(ln.vat, display=["none", "table-cell"]),
        rx.table.cell(ln.total, text_align="right"),
    )


def _attempt(row: AttemptRow) -> rx.Component:
    return rx.hstack(rx.text(row.date, size="2", color_scheme="gray"), rx.text(row.method, size="2"),
                     billing_badge(row.status, row.status_label),
                     rx.cond(row.reason != "", rx.text(row.reason, size="2", color_scheme="red")),
                     rx.cond(row.refunds != "", rx.text(row.refunds, size="2", data_testid="refund-note")), rx.spacer(),
                     rx.text(row.amount, size="2"), width="100%", wrap="wrap", data_testid="attempt-row")


def _saved_card_button(c: SavedCardRow) -> rx.Component:
    return rx.button(t("Pay with {card}", card=c.label), variant="soft", on_click=InvoiceState.pay_with_card(c.id),
                     disabled=InvoiceState.pending, data_testid="pay-saved-card")


def _total(label: str | rx.Var, value: rx.Var, strong: bool = False, test_id: str = "") -> rx.Component:
    return rx.hstack(rx.text(label, color_scheme="gray"), rx.spacer(),
                     rx.text(value, weight="bold" if strong else "regular", data_testid=test_id or None), width="100%")


@shell(N_("Invoice"))
def invoice_page() -> rx.Component:
    inv = InvoiceState.invoice
    return rx.vstack(
        error_callout(InvoiceState.error),
        rx.cond(
            inv.number != "",
            rx.vstack(
                rx.hstack(rx.heading(inv.kind_label, " ", inv.number, size="5", data_testid="invoice-number"),
                          rx.box(billing_badge(inv.status, inv.status_label), data_testid="invoice-status"),
                          help_link("invoice", rx.State.router.page.params.get("id", "")),  # type: ignore[attr-defined]
                          rx.spacer(),
                          download_link(rx.button(rx.icon("download", size=16), t("Download PDF"), variant="soft"),
                                        inv.pdf_url, test_id="invoice-pdf"),
                          align="center", width="100%", wrap="wrap"),
                rx.hstack(rx.text(t("Issued {date}", date=inv.issued), size="2", color_scheme="gray"),
                          rx.cond(inv.due != "", rx.text(t("Due {date}", date=inv.due), size="2",
                                                         color=rx.cond(inv.overdue, rx.color("red", 11),
                                                                       rx.color("gray", 11)))),
                          rx.cond(inv.credits_invoice != "",
                                  rx.text(t("Credits invoice {number}", number=inv.credits_invoice),
                                          size="2", color_scheme="gray")),
                          spacing="4", wrap="wrap"),
                rx.cond(InvoiceState.failure != "",
                        rx.callout(rx.text(t("Your last payment did not go through: {reason} The invoice is still "
                                             "due; you can try again.", reason=InvoiceState.failure)),
                                   icon="circle_alert", color_scheme="red", role="alert", width="100%",
                                   data_testid="payment-failure")),
                rx.cond(InvoiceState.cancelled & InvoiceState.payable,
                        rx.callout(t("You cancelled the payment. The invoice is still due."), icon="info",
                                   color_scheme="gray", width="100%", data_testid="payment-cancelled")),
                rx.cond(InvoiceState.processing,
                        rx.callout(t("Your payment is processing: the bank confirms a direct debit within a few "
                                     "working days. Nothing else to do; this page updates by itself."),
                                   icon="hourglass", color_scheme="blue", width="100%",
                                   data_testid="payment-processing")),
                rx.cond(InvoiceState.pending,
                        rx.callout(t("We are waiting for the card processor to confirm your payment. This page "
                                     "updates by itself."), icon="loader", color_scheme="blue", width="100%",
                                   data_testid="payment-pending")),
                rx.cond(InvoiceState.payable,
                        rx.card(rx.hstack(rx.vstack(rx.text(t("Amount due"), size="2", color_scheme="gray"),
                                                    rx.heading(inv.balance, size="6", data_testid="invoice-balance"),
                                                    spacing="1"),
                                          rx.spacer(),
                                          rx.vstack(
                                              rx.button(rx.icon("credit_card", size=16), t("Pay now by card"), size="3",
                                                        on_click=InvoiceState.pay, loading=InvoiceState.paying,
                                                        data_testid="pay-now"),
                                              rx.foreach(InvoiceState.saved_cards, _saved_card_button),
                                              align="end", spacing="2"),
                                          align="center", width="100%"), width="100%")),
                card(t("Items"), rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("Description")), rx.table.column_header_cell(t("Qty")),
                        rx.table.column_header_cell(t("Unit price"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(t("VAT"), display=["none", "table-cell"]),
                        rx.table.column_header_cell(t("Amount"), text_align="right"))),
                    rx.table.body(rx.foreach(InvoiceState.lines, _line)), width="100%"), icon="list"),
                card(t("Totals"), _total(t("Subtotal (incl. VAT)"), inv.subtotal), _total(t("Included VAT"), inv.tax),
                     _total(t("Paid"), inv.paid), rx.divider(), _total(t("Total"), inv.total, strong=True,
                                                                    test_id="invoice-total"),
                     icon="receipt"),
                rx.cond(InvoiceState.attempts.length() > 0,
                        card(t("Payments"), rx.foreach(InvoiceState.attempts, _attempt), icon="wallet")),
                spacing="4", width="100%",
            ),
        ),
        rx.link(t("← Back to billing"), href="/billing", size="2"),
        spacing="4", width="100%",
    )


def register(app: rx.App) -> None:
    app.add_page(billing_page, route="/billing", title=N_("Billing"), on_load=BillingState.load)
    app.add_page(invoice_page, route="/billing/invoices/[id]", title=N_("Invoice"), on_load=InvoiceState.load)
    # Notifications and mail of the demo and the business's systems link to /invoices/<id>.
    app.add_page(invoice_page, route="/invoices/[id]", title=N_("Invoice"), on_load=InvoiceState.load)
