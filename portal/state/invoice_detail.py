"""One invoice or credit note, and paying it online. The id comes from the URL: never trusted."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import audit, billing
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.events import Topic
from portal.format import day, day_time, money
from portal.i18n import tr
from portal.live.push import listens
from portal.state import tab
from portal.state.base import FAILED, PortalState
from portal.state.billing import KIND_LABELS, STATUS_LABELS
from portal.state.guard import Access, access, request_info_of
from portal.state.messages import message_for_error
from portal.state.session import backend_url, browser_origin, navigate_to, server_url


@dataclasses.dataclass
class LineRow:
    description: str
    quantity: int
    unit_price: str
    vat: str
    total: str


@dataclasses.dataclass
class AttemptRow:
    date: str
    amount: str
    method: str
    status: str
    status_label: str
    reason: str
    refunds: str = ""


@dataclasses.dataclass
class SavedCardRow:
    id: int
    label: str


@dataclasses.dataclass
class InvoiceHeader:
    number: str = ""
    kind: str = ""
    kind_label: str = ""
    status: str = ""
    status_label: str = ""
    issued: str = ""
    due: str = ""
    overdue: bool = False
    subtotal: str = ""
    tax: str = ""
    paid: str = ""
    total: str = ""
    balance: str = ""
    credits_invoice: str = ""
    pdf_url: str = ""


@access(Access.CUSTOMER)
@listens(Topic.BILLING)
class InvoiceState(PortalState, rx.State):
    loaded: bool = False
    error: str = ""
    invoice: InvoiceHeader = InvoiceHeader()
    lines: list[LineRow] = []
    attempts: list[AttemptRow] = []
    payable: bool = False
    pending: bool = False
    processing: bool = False
    failure: str = ""
    paying: bool = False
    cancelled: bool = False
    # Cards saved at Stripe that can pay this invoice without leaving the page (off-session).
    saved_cards: list[SavedCardRow] = []
    _invoice_id: int = 0
    # Back from the provider's page after paying: a pending payment is then worth waiting for.
    _returned: bool = False

    @rx.event
    def load(self) -> None:
        self.reset()
        raw = tab.last_segment(self)
        if not raw.isdigit() or len(raw) > 12:
            self.error = tr("That is not an invoice we know.")
            return
        checkout = tab.query_parameters(self).get("checkout", "")
        self._returned = checkout == "done"
        self.cancelled = checkout == "cancelled"
        self._load(int(raw))

    def _reload(self) -> None:
        if self._invoice_id:
            self._load(self._invoice_id)

    def _load(self, invoice_id: int) -> None:
        principal = self._me()
        try:
            with session_scope() as db:
                detail = billing.get_invoice(db, principal=principal, invoice_id=invoice_id)
        except DomainError as err:
            # Only an invoice the caller owns is ever remembered (and paid) by this tab.
            self._invoice_id = 0
            if err.code == ErrorCode.NOT_FOUND:
                with session_scope() as db:
                    audit.access_denied(db, principal=principal, target_type="invoice", target_id=invoice_id,
                                        request=request_info_of(self))
            self.error = message_for_error(err)
            self.invoice = InvoiceHeader()
            self.lines, self.attempts = [], []
            return
        self._invoice_id = invoice_id
        inv = detail.invoice
        c = inv.currency
        status = "overdue" if inv.overdue else inv.status
        self.invoice = InvoiceHeader(
            number=inv.number, kind=inv.kind, kind_label=tr(KIND_LABELS.get(inv.kind, inv.kind)), status=status,
            status_label=tr(STATUS_LABELS.get(status, status)), issued=day(inv.issued_at),
            due=day(inv.due_at) if inv.kind == "invoice" else "", overdue=inv.overdue,
            subtotal=money(detail.subtotal_cents, c), tax=money(detail.tax_cents, c),
            paid=money(detail.amount_paid_cents, c), total=money(inv.total_cents, c),
            balance=money(inv.balance_cents, c), credits_invoice=detail.credits_invoice_number,
            pdf_url=f"{backend_url(self, '')}/api/files/invoices/{inv.id}.pdf",
        )
        self.lines = [LineRow(description=ln.description, quantity=ln.quantity,
                              unit_price=money(ln.unit_price_cents, c), vat=f"{ln.tax_rate_bp / 100:g}%",
                              total=money(ln.total_cents, c)) for ln in detail.lines]
        self.attempts = [AttemptRow(date=day_time(p.completed_at or p.created_at), amount=money(p.amount_cents, c),
                                    method=p.method_label or tr("Card"), status=p.status,
                                    status_label=tr(STATUS_LABELS.get(p.status, p.status)), reason=p.failure_reason,
                                    refunds=" · ".join(p.refunds))
                         for p in detail.payments]
        self.processing = detail.payable and detail.processing
        self.payable = detail.payable and not detail.processing
        self.pending = self.payable and detail.pending_payment and self._returned
        self.failure = detail.last_failure if self.payable else ""
        if self.payable:
            with session_scope() as db:
                saved = billing.saved_stripe_cards(db, principal=principal)
            self.saved_cards = [SavedCardRow(id=c.id, label=f"{c.brand.capitalize()} •••• {c.last4}") for c in saved]
        else:
            self.saved_cards = []
        self.loaded = True

    @rx.event
    def pay_with_card(self, card_id: int) -> EventSpec | None:
        """Charge a saved card (only one this tab was shown); Stripe's page only if the bank asks for 3-D Secure."""
        if not self._invoice_id or not isinstance(card_id, int) or isinstance(card_id, bool) \
                or card_id not in {c.id for c in self.saved_cards}:
            return None
        started = self._call(billing.pay_with_saved_card, invoice_id=self._invoice_id, card_id=card_id,
                             provider_base_url=server_url(self),
                             return_url=f"{browser_origin(self)}/billing/invoices/{self._invoice_id}",
                             request=request_info_of(self))
        if started is FAILED:
            return None
        if started is None:
            self._returned = True  # waiting for Stripe's confirmation, as after its page
            self._reload()
            return None
        self.paying = True
        return navigate_to(started.url)

    @rx.event
    def pay(self) -> EventSpec | None:
        """Start a hosted checkout with the provider and send the browser there."""
        if not self._invoice_id:
            return None
        base = browser_origin(self)
        started = self._call(billing.start_payment, invoice_id=self._invoice_id,
                             provider_base_url=server_url(self),
                             return_url=f"{base}/billing/invoices/{self._invoice_id}", request=request_info_of(self))
        if started is FAILED:  # FAILED (the type narrows started)
            return None
        self.paying = True
        return navigate_to(started.url)
