"""One invoice or credit note, and paying it online. The id comes from the URL: never trusted."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import audit, billing
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal, require_principal
from portal.format import day, day_time, money
from portal.live.push import listens
from portal.settings import get_settings
from portal.state.billing import KIND_LABELS, STATUS_LABELS
from portal.state.guard import Access, access, current_principal, principal_from_state, request_info_of
from portal.state.messages import message_for_error
from portal.state.session import backend_url, navigate_to


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
class InvoiceState(rx.State):
    loaded: bool = False
    error: str = ""
    invoice: InvoiceHeader = InvoiceHeader()
    lines: list[LineRow] = []
    attempts: list[AttemptRow] = []
    payable: bool = False
    pending: bool = False
    failure: str = ""
    paying: bool = False
    cancelled: bool = False
    _invoice_id: int = 0
    # Back from the provider's page after paying: a pending payment is then worth waiting for.
    _returned: bool = False

    @rx.event
    def load(self) -> None:
        self.reset()
        principal = require_principal(current_principal())
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        if not raw.isdigit() or len(raw) > 12:
            self.error = "That is not an invoice we know."
            return
        checkout = self.router.url.query_parameters.get("checkout", "")
        self._returned = checkout == "done"
        self.cancelled = checkout == "cancelled"
        self._load(principal, int(raw))

    async def _on_live(self, _event: DomainEvent) -> None:
        principal = principal_from_state(self)
        if principal is not None and principal.is_customer and self._invoice_id:
            self._load(principal, self._invoice_id)

    def _load(self, principal: Principal, invoice_id: int) -> None:
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
            number=inv.number, kind=inv.kind, kind_label=KIND_LABELS.get(inv.kind, inv.kind), status=status,
            status_label=STATUS_LABELS.get(status, status), issued=day(inv.issued_at),
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
                                    method=p.method_label or "Card", status=p.status,
                                    status_label=STATUS_LABELS.get(p.status, p.status), reason=p.failure_reason)
                         for p in detail.payments]
        self.payable = detail.payable
        self.pending = detail.payable and detail.pending_payment and self._returned
        self.failure = detail.last_failure if detail.payable else ""
        self.loaded = True

    @rx.event
    def pay(self) -> EventSpec | None:
        """Start a hosted checkout with the provider and send the browser there."""
        principal = require_principal(current_principal())
        if not self._invoice_id:
            return None
        origin = self.router.headers.origin or ""
        parts = urlsplit(origin)
        base = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else \
            get_settings().portal_public_url.rstrip("/")
        try:
            with session_scope() as db:
                started = billing.start_payment(
                    db, principal=principal, invoice_id=self._invoice_id,
                    provider_base_url=backend_url(self, ""),
                    return_url=f"{base}/billing/invoices/{self._invoice_id}", request=request_info_of(self))
        except DomainError as err:
            self.error = message_for_error(err)
            return None
        self.paying = True
        return navigate_to(started.url)
