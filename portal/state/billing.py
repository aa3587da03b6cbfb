"""The billing page: balance, what is due, credits, invoices, payments, saved cards and charts."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import reflex as rx
from reflex_base.event import EventSpec

from portal import format as fmt
from portal.db import session_scope
from portal.domain import billing
from portal.domain.errors import DomainError
from portal.domain.events import Topic
from portal.format import day, money
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.settings import get_settings
from portal.state import tab
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for_error
from portal.state.session import backend_url, navigate_to

PER_PAGE = 10
_DATE_INPUT = re.compile(r"(\d{4}-\d{2}-\d{2})?")
INVOICE_STATUSES = ("all", "open", "overdue", "paid", "void")
INVOICE_KINDS = ("all", "invoice", "credit_note")
PAYMENT_STATUSES = ("all", "succeeded", "failed", "pending", "processing", "refunded")
# Shown translated (tr) where they are used.
STATUS_LABELS = {"open": N_("Due"), "paid": N_("Paid"), "void": N_("Void"), "overdue": N_("Overdue"),
                 "draft": N_("Draft"), "succeeded": N_("Succeeded"), "failed": N_("Failed"), "pending": N_("Pending"),
                 "refunded": N_("Refunded"), "processing": N_("Processing")}
KIND_LABELS = {"invoice": N_("Invoice"), "credit_note": N_("Credit note")}


@dataclasses.dataclass
class InvoiceRow:
    id: int
    number: str
    kind: str
    status: str
    status_label: str
    issued: str
    due: str
    total: str
    balance: str
    overdue: bool
    href: str
    pdf_url: str


@dataclasses.dataclass
class PaymentRow:
    id: int
    date: str
    invoice: str
    amount: str
    method: str
    status: str
    status_label: str
    reason: str
    receipt_url: str
    refunds: str = ""


@dataclasses.dataclass
class CreditRow:
    date: str
    amount: str
    reason: str


@dataclasses.dataclass
class CardRow:
    id: int
    label: str
    expiry: str
    is_default: bool
    expired: bool


@dataclasses.dataclass
class BalanceCard:
    due: str = ""
    overdue: str = ""
    has_overdue: bool = False
    open_invoices: int = 0
    overdue_invoices: int = 0
    store_credit: str = ""
    next_due: str = ""


def _parse_day(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as err:
        raise ValueError("bad date") from err


def invoice_row(s: billing.InvoiceSummary, api_base: str) -> InvoiceRow:
    status = "overdue" if s.overdue else s.status
    return InvoiceRow(
        id=s.id, number=s.number, kind=tr(KIND_LABELS.get(s.kind, s.kind)), status=status,
        status_label=tr(STATUS_LABELS.get(status, status)), issued=day(s.issued_at),
        due=day(s.due_at) if s.kind == "invoice" and s.status == "open" else "",
        total=money(s.total_cents, s.currency), balance=money(s.balance_cents, s.currency), overdue=s.overdue,
        href=f"/billing/invoices/{s.id}", pdf_url=f"{api_base}/api/files/invoices/{s.id}.pdf",
    )


@access(Access.CUSTOMER)
@listens(Topic.BILLING)
class BillingState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    notice: str = ""
    filter_error: str = ""
    api_base: str = ""
    balance: BalanceCard = BalanceCard()
    due: list[InvoiceRow] = []
    credits: list[CreditRow] = []
    invoices: list[InvoiceRow] = []
    invoice_total: int = 0
    page: int = 1
    pages: int = 1
    payments: list[PaymentRow] = []
    payment_page: int = 1
    payment_pages: int = 1
    cards: list[CardRow] = []
    spending: list[dict[str, Any]] = []
    by_status: list[dict[str, Any]] = []
    # The filters as typed (kept when they are invalid, so nothing is lost).
    query: str = ""
    status: str = "all"
    kind: str = "all"
    date_from: str = ""
    date_to: str = ""
    payment_status: str = "all"
    statement_from: str = ""
    statement_to: str = ""

    @rx.var
    def statement_error(self) -> str:
        try:
            start, end = _parse_day(self.statement_from), _parse_day(self.statement_to)
        except ValueError:
            return tr("Enter both dates as YYYY-MM-DD.")
        if start is None or end is None:
            return tr("Choose the first and the last day of the statement.")
        if end < start:
            return tr("The last day is before the first day.")
        if (end - start).days > 3660:
            return tr("Choose a period of at most ten years.")
        return ""

    @rx.var
    def statement_url(self) -> str:
        return f"{self.api_base}/api/files/statement.pdf?from={self.statement_from}&to={self.statement_to}"

    @rx.var
    def csv_url(self) -> str:
        return f"{self.api_base}/api/files/payments.csv"

    @rx.event
    def load(self) -> None:
        self.api_base = backend_url(self, "")
        today = date.today()
        if not self.statement_from:
            self.statement_from = date(today.year, 1, 1).isoformat()
            self.statement_to = today.isoformat()
        self._reload()

    def _reload(self) -> None:
        principal = self._me()
        try:
            with session_scope() as db:
                bal = billing.balance(db, principal=principal)
                due = billing.due_invoices(db, principal=principal)
                credits = billing.credits(db, principal=principal)
                cards = billing.cards(db, principal=principal)
                spending = billing.spending_by_month(db, principal=principal)
                by_status = billing.invoices_by_status(db, principal=principal)
            self._load_invoices()
            self._load_payments()
        except DomainError as err:
            self.error = message_for_error(err)
            return
        c = bal.currency
        self.balance = BalanceCard(
            due=money(bal.due_cents, c), overdue=money(bal.overdue_cents, c), has_overdue=bal.overdue_cents > 0,
            open_invoices=bal.open_invoices, overdue_invoices=bal.overdue_invoices,
            store_credit=money(bal.store_credit_cents, c), next_due=day(bal.next_due_at),
        )
        self.due = [invoice_row(s, self.api_base) for s in due]
        self.credits = [CreditRow(date=day(cr.created_at), amount=money(cr.amount_cents, cr.currency),
                                  reason=cr.reason) for cr in credits]
        self.cards = [CardRow(id=cd.id, label=f"{cd.brand.capitalize()} •••• {cd.last4}",
                              expiry=f"{cd.exp_month:02d}/{cd.exp_year % 100:02d}", is_default=cd.is_default,
                              expired=cd.expired) for cd in cards]
        self.spending = [{"month": fmt.month_year(date(int(k[:4]), int(k[5:]), 1)), "amount": v / 100}
                         for k, v in spending]
        self.by_status = [{"status": tr(STATUS_LABELS.get(k, k)), "count": n} for k, n in by_status]
        self.loaded = True

    def _load_invoices(self) -> None:
        with session_scope() as db:
            result = billing.list_invoices(
                db, principal=self._me(), query=self.query, status="" if self.status == "all" else self.status,
                kind="" if self.kind == "all" else self.kind, date_from=_parse_day(self.date_from),
                date_to=_parse_day(self.date_to), page=self.page, per_page=PER_PAGE)
        if self.page > result.pages:
            self.page = result.pages
            return self._load_invoices()
        self.invoices = [invoice_row(s, self.api_base) for s in result.items]
        self.invoice_total = result.total
        self.pages = result.pages

    def _load_payments(self) -> None:
        with session_scope() as db:
            result = billing.list_payments(
                db, principal=self._me(), status="" if self.payment_status == "all" else self.payment_status,
                date_from=_parse_day(self.date_from), date_to=_parse_day(self.date_to), page=self.payment_page,
                per_page=PER_PAGE)
        if self.payment_page > result.pages:
            self.payment_page = result.pages
            return self._load_payments()
        self.payments = [
            PaymentRow(id=p.id, date=day(p.completed_at or p.created_at), invoice=p.invoice_number,
                       amount=money(p.amount_cents, p.currency), method=p.method_label or p.method.replace("_", " "),
                       status=p.status, status_label=tr(STATUS_LABELS.get(p.status, p.status)), reason=p.failure_reason,
                       receipt_url=f"{self.api_base}/api/files/receipts/{p.id}.pdf" if p.status == "succeeded"
                       else "", refunds=" · ".join(p.refunds))
            for p in result.items
        ]
        self.payment_pages = result.pages

    @rx.event
    def apply_filters(self, form: dict[str, Any]) -> None:
        """The filter form. Everything is checked; what the person typed stays in the form."""
        if not isinstance(form, dict):
            return
        query = form.get("query", "")
        status = form.get("status", "all") or "all"
        kind = form.get("kind", "all") or "all"
        date_from, date_to = form.get("date_from", ""), form.get("date_to", "")
        if not all(isinstance(v, str) for v in (query, status, kind, date_from, date_to)):
            return
        self.query, self.date_from, self.date_to = query[:100], date_from[:10], date_to[:10]
        self.status = status if status in INVOICE_STATUSES else "all"
        self.kind = kind if kind in INVOICE_KINDS else "all"
        try:
            start, end = _parse_day(self.date_from), _parse_day(self.date_to)
        except ValueError:
            self.filter_error = tr("Enter dates as YYYY-MM-DD.")
            return
        if start and end and end < start:
            self.filter_error = tr("The end date is before the start date.")
            return
        self.filter_error = ""
        self.page = 1
        self._refresh_invoices()

    @rx.event
    def clear_filters(self) -> None:
        self.query, self.status, self.kind, self.date_from, self.date_to = "", "all", "all", "", ""
        self.filter_error = ""
        self.page = 1
        self._refresh_invoices()

    @rx.event
    def filter_payments(self, status: str) -> None:
        if not isinstance(status, str) or status not in PAYMENT_STATUSES:
            return
        self.payment_status = status
        self.payment_page = 1
        self._load_payments()

    def _refresh_invoices(self) -> None:
        """The invoice filters' dates apply to the payments list too."""
        try:
            self._load_invoices()
            self.payment_page = 1
            self._load_payments()
        except DomainError as err:
            self.filter_error = message_for_error(err)

    @rx.event
    def go_to_page(self, page: int) -> None:
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= self.pages:
            return
        self.page = page
        self._refresh_invoices()

    @rx.event
    def go_to_payment_page(self, page: int) -> None:
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= self.payment_pages:
            return
        self.payment_page = page
        self._load_payments()

    @rx.event
    @on_loop
    def update_statement_from(self, value: str) -> None:
        # A date input sends YYYY-MM-DD or nothing; anything else is not from the page.
        if isinstance(value, str) and _DATE_INPUT.fullmatch(value):
            self.statement_from = value

    @rx.event
    @on_loop
    def update_statement_to(self, value: str) -> None:
        if isinstance(value, str) and _DATE_INPUT.fullmatch(value):
            self.statement_to = value

    @rx.event
    def add_card(self) -> EventSpec | None:
        """Send the browser to the provider's hosted page; the saved card comes back by webhook."""
        origin = urlsplit(tab.headers(self).origin or "")
        base = f"{origin.scheme}://{origin.netloc}" if origin.scheme in ("http", "https") and origin.netloc else \
            get_settings().portal_public_url.rstrip("/")
        url = self._call(billing.start_card_setup, provider_base_url=backend_url(self, ""),
                         return_url=f"{base}/billing", request=request_info_of(self))
        if url is FAILED:  # FAILED (the type narrows url to str)
            return None
        return navigate_to(url)

    @rx.event
    def make_default_card(self, card_id: int) -> None:
        self._card_action(card_id, billing.set_default_card, tr("That card is now your default."))

    @rx.event
    def remove_card(self, card_id: int) -> None:
        self._card_action(card_id, billing.remove_card, tr("The card was removed."))

    def _card_action(self, card_id: Any, action: Any, done: str) -> None:
        if not isinstance(card_id, int) or isinstance(card_id, bool):
            return
        if self._call(action, card_id=card_id) is FAILED:
            return
        self.error, self.notice = "", done
        self._reload()
