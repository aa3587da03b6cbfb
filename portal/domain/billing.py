"""Balance, invoices, payments and saved cards for customers, scoped to their own customer id.

Someone else's invoice or payment is "not found", exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar

import stripe
from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, events, outbox
from portal.domain import stored_wording as sw
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.notifications import notify_customer
from portal.domain.principal import Principal, require_customer
from portal.format import money
from portal.i18n import N_, tr
from portal.integrations import payments as provider_api
from portal.integrations.stripe_provider import StripeProvider
from portal.models import (
    CreditEntry,
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    NotificationKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from portal.settings import DEVELOPMENT_SECRETS, get_settings

log = logging.getLogger(__name__)
PER_PAGE_MAX = 50
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    due_cents: int
    overdue_cents: int
    open_invoices: int
    overdue_invoices: int
    store_credit_cents: int
    next_due_at: str | None


def balance(session: Session, *, principal: Principal) -> Balance:
    customer_id = require_customer(principal)
    now = utcnow()
    customer = session.get(Customer, customer_id)
    currency = customer.currency if customer else "EUR"
    open_rows = session.exec(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN,
                              Invoice.kind == InvoiceKind.INVOICE)
    ).all()
    due = sum(i.total_cents - i.amount_paid_cents for i in open_rows)
    overdue = [i for i in open_rows if i.due_at is not None and i.due_at < now]
    upcoming = sorted(i.due_at for i in open_rows if i.due_at is not None and i.due_at >= now)
    credit = session.exec(select(func.coalesce(func.sum(CreditEntry.amount_cents), 0))
                          .where(CreditEntry.customer_id == customer_id)).one()
    return Balance(
        currency=currency,
        due_cents=due,
        overdue_cents=sum(i.total_cents - i.amount_paid_cents for i in overdue),
        open_invoices=len(open_rows),
        overdue_invoices=len(overdue),
        store_credit_cents=int(credit or 0),
        next_due_at=upcoming[0].date().isoformat() if upcoming else None,
    )


# -- shapes -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class InvoiceSummary:
    id: int
    number: str
    kind: str
    status: str
    currency: str
    total_cents: int
    balance_cents: int
    issued_at: datetime
    due_at: datetime | None
    paid_at: datetime | None
    overdue: bool


@dataclasses.dataclass(frozen=True, slots=True)
class LineOut:
    description: str
    quantity: int
    unit_price_cents: int
    tax_rate_bp: int
    total_cents: int


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentSummary:
    id: int
    invoice_id: int | None
    invoice_number: str
    amount_cents: int
    currency: str
    method: str
    method_label: str
    status: str
    failure_reason: str
    created_at: datetime
    completed_at: datetime | None
    # The refunds of this payment as the customer follows them ("Refund €30.00: pending").
    refunds: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class InvoiceDetail:
    invoice: InvoiceSummary
    subtotal_cents: int
    tax_cents: int
    amount_paid_cents: int
    order_id: int | None
    credits_invoice_number: str
    lines: list[LineOut]
    payments: list[PaymentSummary]

    @property
    def payable(self) -> bool:
        inv = self.invoice
        return inv.kind == InvoiceKind.INVOICE and inv.status == InvoiceStatus.OPEN and inv.balance_cents > 0

    @property
    def pending_payment(self) -> bool:
        """The newest attempt is waiting for the provider's confirmation (an abandoned checkout
        stops counting after half an hour)."""
        if not self.payments:
            return False
        newest = self.payments[0]
        return newest.status == PaymentStatus.PENDING and newest.created_at > utcnow() - timedelta(minutes=30)

    @property
    def processing(self) -> bool:
        """A payment the bank has yet to settle (SEPA Direct Debit): paying again would pay twice."""
        return any(p.status == PaymentStatus.PROCESSING for p in self.payments)

    @property
    def last_failure(self) -> str:
        for p in self.payments:  # newest first
            if p.status == PaymentStatus.SUCCEEDED:
                return ""
            if p.status == PaymentStatus.FAILED:
                # A reason stored in English (ours, marked N_) is shown in the reader's language.
                return tr(p.failure_reason or N_("The payment was declined."))
        return ""


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[T]):

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclasses.dataclass(frozen=True, slots=True)
class CreditOut:
    amount_cents: int
    currency: str
    reason: str
    created_at: datetime
    expires_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class CardOut:
    id: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    expired: bool


def _summary(inv: Invoice, now: datetime) -> InvoiceSummary:
    assert inv.id is not None
    open_ = inv.status == InvoiceStatus.OPEN and inv.kind == InvoiceKind.INVOICE
    bal = inv.total_cents - inv.amount_paid_cents if open_ else 0
    return InvoiceSummary(
        id=inv.id, number=inv.number, kind=inv.kind, status=inv.status, currency=inv.currency,
        total_cents=inv.total_cents, balance_cents=bal, issued_at=inv.issued_at, due_at=inv.due_at,
        paid_at=inv.paid_at, overdue=bool(open_ and bal > 0 and inv.due_at is not None and inv.due_at < now),
    )


def _payment_summary(p: Payment, number: str) -> PaymentSummary:
    assert p.id is not None
    return PaymentSummary(id=p.id, invoice_id=p.invoice_id, invoice_number=number, amount_cents=p.amount_cents,
                          currency=p.currency, method=p.method, method_label=p.method_label, status=p.status,
                          failure_reason=p.failure_reason, created_at=p.created_at, completed_at=p.completed_at)


REFUND_WORDS = {"pending": N_("on its way"), "succeeded": N_("sent"), "failed": N_("failed"),
                "canceled": N_("cancelled")}


def with_refunds(session: Session, items: list[PaymentSummary]) -> list[PaymentSummary]:
    """The payments with their refunds' state, until each succeeds or fails."""
    ids = [p.id for p in items]
    if not ids:
        return items
    notes: dict[int, list[str]] = {}
    for r in session.exec(select(Refund).where(col(Refund.payment_id).in_(ids)).order_by(col(Refund.id))).all():
        state = tr(REFUND_WORDS[r.status]) if r.status in REFUND_WORDS else r.status
        if r.status == "failed" and r.failure_reason:
            state = tr("{state} ({reason})", state=state, reason=tr(r.failure_reason))
        notes.setdefault(r.payment_id, []).append(
            tr("Refund {amount}: {state}", amount=money(r.amount_cents, r.currency), state=state))
    return [dataclasses.replace(p, refunds=tuple(notes[p.id])) if p.id in notes else p for p in items]


def day_start(d: date) -> datetime:
    from datetime import UTC

    return datetime.combine(d, time.min, tzinfo=UTC)


def own_invoice(session: Session, *, principal: Principal, invoice_id: int) -> Invoice:
    customer_id = require_customer(principal)
    inv = session.get(Invoice, invoice_id)
    # Drafts are the business's work in progress: not the customer's to see yet.
    if inv is None or inv.customer_id != customer_id or inv.status == InvoiceStatus.DRAFT:
        raise NotFound("invoice")
    return inv


def own_payment(session: Session, *, principal: Principal, payment_id: int) -> Payment:
    customer_id = require_customer(principal)
    pay = session.get(Payment, payment_id)
    if pay is None or pay.customer_id != customer_id:
        raise NotFound("payment")
    return pay


# -- queries ----------------------------------------------------------------------------------------


def due_invoices(session: Session, *, principal: Principal) -> list[InvoiceSummary]:
    customer_id = require_customer(principal)
    now = utcnow()
    rows = session.exec(select(Invoice).where(
        Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN, Invoice.kind == InvoiceKind.INVOICE,
    ).order_by(col(Invoice.due_at).asc(), col(Invoice.id).asc())).all()
    return [s for s in (_summary(i, now) for i in rows) if s.balance_cents > 0]


def list_invoices(session: Session, *, principal: Principal, query: str = "", status: str = "", kind: str = "",
                  date_from: date | None = None, date_to: date | None = None, page: int = 1,
                  per_page: int = 10) -> Page[InvoiceSummary]:
    """Invoices and credit notes, newest first. `status` may also be "overdue"."""
    customer_id = require_customer(principal)
    if len(query) > 100:
        raise Invalid("query too long", field="query")
    if status and status not in (*[s.value for s in InvoiceStatus if s != InvoiceStatus.DRAFT], "overdue"):
        raise Invalid("unknown status", field="status")
    if kind and kind not in {k.value for k in InvoiceKind}:
        raise Invalid("unknown kind", field="kind")
    if not 1 <= per_page <= PER_PAGE_MAX or page < 1:
        raise Invalid("bad page", field="page")
    now = utcnow()
    stmt = select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status != InvoiceStatus.DRAFT)
    if status == "overdue":
        stmt = stmt.where(Invoice.status == InvoiceStatus.OPEN, Invoice.kind == InvoiceKind.INVOICE,
                          col(Invoice.due_at) < now)
    elif status:
        stmt = stmt.where(Invoice.status == status)
    if kind:
        stmt = stmt.where(Invoice.kind == kind)
    if date_from:
        stmt = stmt.where(col(Invoice.issued_at) >= day_start(date_from))
    if date_to:
        stmt = stmt.where(col(Invoice.issued_at) < day_start(date_to + timedelta(days=1)))
    q = query.strip()
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        lines = select(InvoiceLine.invoice_id).where(col(InvoiceLine.description).ilike(like))
        stmt = stmt.where(or_(col(Invoice.number).ilike(like), col(Invoice.id).in_(lines)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Invoice.issued_at).desc(), col(Invoice.id).desc())
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(items=[_summary(i, now) for i in rows], total=int(total), page=page, per_page=per_page)


def list_payments(session: Session, *, principal: Principal, status: str = "", date_from: date | None = None,
                  date_to: date | None = None, page: int = 1, per_page: int = 10) -> Page[PaymentSummary]:
    customer_id = require_customer(principal)
    if status and status not in {s.value for s in PaymentStatus}:
        raise Invalid("unknown status", field="status")
    if not 1 <= per_page <= PER_PAGE_MAX or page < 1:
        raise Invalid("bad page", field="page")
    stmt = select(Payment, Invoice.number).join(Invoice, col(Payment.invoice_id) == Invoice.id, isouter=True).where(
        Payment.customer_id == customer_id)
    if status:
        stmt = stmt.where(Payment.status == status)
    if date_from:
        stmt = stmt.where(col(Payment.created_at) >= day_start(date_from))
    if date_to:
        stmt = stmt.where(col(Payment.created_at) < day_start(date_to + timedelta(days=1)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Payment.created_at).desc(), col(Payment.id).desc())
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(items=with_refunds(session, [_payment_summary(p, n or "") for p, n in rows]), total=int(total),
                page=page, per_page=per_page)


def payment_history(session: Session, *, principal: Principal, date_from: date | None = None,
                    date_to: date | None = None) -> list[PaymentSummary]:
    customer_id = require_customer(principal)
    stmt = select(Payment, Invoice.number).join(Invoice, col(Payment.invoice_id) == Invoice.id, isouter=True).where(
        Payment.customer_id == customer_id)
    if date_from:
        stmt = stmt.where(col(Payment.created_at) >= day_start(date_from))
    if date_to:
        stmt = stmt.where(col(Payment.created_at) < day_start(date_to + timedelta(days=1)))
    rows = session.exec(stmt.order_by(col(Payment.created_at).asc(), col(Payment.id).asc())).all()
    return [_payment_summary(p, n or "") for p, n in rows]


def get_invoice(session: Session, *, principal: Principal, invoice_id: int) -> InvoiceDetail:
    inv = own_invoice(session, principal=principal, invoice_id=invoice_id)
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)
                         .order_by(col(InvoiceLine.id))).all()
    pays = session.exec(select(Payment).where(Payment.invoice_id == inv.id)
                        .order_by(col(Payment.created_at).desc(), col(Payment.id).desc())).all()
    credited = session.get(Invoice, inv.credits_invoice_id) if inv.credits_invoice_id else None
    return InvoiceDetail(
        invoice=_summary(inv, utcnow()), subtotal_cents=inv.subtotal_cents, tax_cents=inv.tax_cents,
        amount_paid_cents=inv.amount_paid_cents, order_id=inv.order_id,
        credits_invoice_number=credited.number if credited and credited.customer_id == inv.customer_id else "",
        lines=[LineOut(description=ln.description, quantity=ln.quantity, unit_price_cents=ln.unit_price_cents,
                       tax_rate_bp=ln.tax_rate_bp, total_cents=ln.total_cents) for ln in lines],
        payments=with_refunds(session, [_payment_summary(p, inv.number) for p in pays]),
    )


def credits(session: Session, *, principal: Principal) -> list[CreditOut]:
    customer_id = require_customer(principal)
    rows = session.exec(select(CreditEntry).where(CreditEntry.customer_id == customer_id)
                        .order_by(col(CreditEntry.created_at).desc(), col(CreditEntry.id).desc())).all()
    return [CreditOut(amount_cents=c.amount_cents, currency=c.currency, reason=sw.CREDIT_REASONS.read(c.reason),
                      created_at=c.created_at,
                      expires_at=c.expires_at) for c in rows]


def spending_by_month(session: Session, *, principal: Principal, months: int = 12) -> list[tuple[str, int]]:
    """(YYYY-MM, cents) of succeeded payments for the last `months` months, oldest first, gaps as 0."""
    customer_id = require_customer(principal)
    now = utcnow()
    keys: list[str] = []
    y, m = now.year, now.month
    for _ in range(months):
        keys.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    keys.reverse()
    start = day_start(date(int(keys[0][:4]), int(keys[0][5:]), 1))
    rows = session.exec(select(Payment.amount_cents, Payment.completed_at, Payment.created_at).where(
        Payment.customer_id == customer_id, Payment.status == PaymentStatus.SUCCEEDED,
        col(Payment.created_at) >= start)).all()
    sums = dict.fromkeys(keys, 0)
    for amount, completed, created in rows:
        when = completed or created
        key = f"{when.year:04d}-{when.month:02d}"
        if key in sums:
            sums[key] += amount
    return list(sums.items())


def invoices_by_status(session: Session, *, principal: Principal) -> list[tuple[str, int]]:
    customer_id = require_customer(principal)
    now = utcnow()
    rows = session.exec(select(Invoice).where(Invoice.customer_id == customer_id,
                                              Invoice.kind == InvoiceKind.INVOICE,
                                              Invoice.status != InvoiceStatus.DRAFT)).all()
    counts = {"paid": 0, "open": 0, "overdue": 0, "void": 0}
    for inv in rows:
        key = "overdue" if _summary(inv, now).overdue else str(inv.status)
        counts[key] = counts.get(key, 0) + 1
    return list(counts.items())


# -- paying an invoice ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CheckoutStarted:
    payment_id: int
    url: str


def provider_for(base_url: str) -> provider_api.PaymentProvider:
    s = get_settings()
    if s.payments_provider == "simulator":
        if not s.development_tools:  # the simulator is mounted for development on loopback only
            raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available."))
        return provider_api.SimulatorProvider(base_url=base_url, api_key=s.payments_api_key)
    if s.payments_provider == "stripe":
        return stripe_provider(base_url)
    raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available."))


def idempotency_key(kind: str, row_id: int, created_at: datetime) -> str:
    """The same for every retry of one row's request, and never the same for another row (ids are
    used again after a database is restored; the creation time, to the microsecond, is not)."""
    return f"portal-{kind}-{row_id}-{created_at.strftime('%Y%m%dT%H%M%S%f')}"


def stripe_provider(base_url: str) -> StripeProvider:
    """Stripe when it is configured; the bundled Stripe simulator (on this portal) in development.
    Production never talks to the simulator nor with a public development key."""
    s = get_settings()
    if s.payments_provider != "stripe" or not s.stripe_webhook_secrets \
            or not s.accepts_development_secret(s.stripe_secret_key):
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available."))
    api_base = s.stripe_api_base.strip()
    if not api_base and s.stripe_secret_key in DEVELOPMENT_SECRETS:
        api_base = f"{base_url.rstrip('/')}{stripe_simulator_mount()}"
    if s.portal_env == "production" and "/_simulator/" in api_base:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available."))
    return StripeProvider(api_key=s.stripe_secret_key, api_base=api_base, timeout=s.stripe_timeout_seconds)


def stripe_simulator_mount() -> str:
    from portal.integrations.stripe_simulator import MOUNT

    return MOUNT


def start_payment(session: Session, *, principal: Principal, invoice_id: int, provider_base_url: str,
                  return_url: str, request: audit.RequestInfo = audit.NO_REQUEST) -> CheckoutStarted:
    """A pending payment and a hosted checkout for the invoice's open balance. Nothing is marked paid
    until the provider's signed confirmation arrives (apply_payment_event)."""
    inv = own_invoice(session, principal=principal, invoice_id=invoice_id)
    open_cents = inv.total_cents - inv.amount_paid_cents
    if inv.kind != InvoiceKind.INVOICE or inv.status != InvoiceStatus.OPEN or open_cents <= 0:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This invoice has nothing left to pay."))
    if session.exec(select(Payment.id).where(Payment.invoice_id == inv.id,
                                             Payment.status == PaymentStatus.PROCESSING)).first() is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("A payment of this invoice is still being processed by the bank."))
    provider = provider_for(provider_base_url)
    pay = Payment(customer_id=inv.customer_id, invoice_id=inv.id, order_id=inv.order_id, amount_cents=open_cents,
                  currency=inv.currency, method="card", method_label="", status=PaymentStatus.PENDING,
                  provider=provider.name)
    session.add(pay)
    session.flush()
    assert pay.id is not None
    reference = f"pay_{pay.id}"
    if isinstance(provider, StripeProvider):
        # The pending payment is committed before Stripe is asked (no transaction held open over the
        # network), and the request is keyed by it: a retry never opens a second checkout.
        session.commit()
        try:
            checkout = provider.create_checkout(amount_cents=open_cents, currency=inv.currency, reference=reference,
                                                description=tr("Invoice {number}", number=inv.number),
                                                return_url=return_url,
                                                idempotency_key=idempotency_key("checkout", pay.id, pay.created_at))
        except stripe.StripeError as err:
            log.warning("Stripe refused a checkout session for %s: %s", reference, err)
            pay.status, pay.failure_reason = PaymentStatus.FAILED, N_("The payment could not be started.")
            session.add(pay)
            session.commit()
            raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available right now. "
                                                     "Please try again in a few minutes.")) from err
    else:
        checkout = provider.create_checkout(amount_cents=open_cents, currency=inv.currency, reference=reference,
                                            description=tr("Invoice {number}", number=inv.number),
                                            return_url=return_url)
    pay.provider_ref = checkout.id
    session.add(pay)
    audit.record(session, action="billing.payment_started", principal=principal, target_type="invoice",
                 target_id=inv.id or "", request=request, payment_id=pay.id, amount_cents=open_cents)
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=inv.customer_id,
                                     data={"invoice_id": inv.id}))
    return CheckoutStarted(payment_id=pay.id, url=checkout.url)


def online_payment_available(provider_base_url: str) -> bool:
    try:
        provider_for(provider_base_url)
    except DomainError:
        return False
    return True


def start_order_payment(session: Session, *, principal: Principal, order_id: int, provider_base_url: str,
                        return_base: str, request: audit.RequestInfo = audit.NO_REQUEST) -> CheckoutStarted:
    """Pay a just-placed order online: a hosted checkout for its invoice, back to that invoice after."""
    customer_id = require_customer(principal)
    inv = session.exec(select(Invoice).where(Invoice.order_id == order_id, Invoice.customer_id == customer_id,
                                             Invoice.kind == InvoiceKind.INVOICE, Invoice.status == InvoiceStatus.OPEN)
                       .order_by(col(Invoice.id).desc())).first()
    if inv is None or inv.id is None:
        raise NotFound("invoice")
    return start_payment(session, principal=principal, invoice_id=inv.id, provider_base_url=provider_base_url,
                         return_url=f"{return_base}/billing/invoices/{inv.id}", request=request)


def apply_payment_event(session: Session, *, event: provider_api.PaymentEvent) -> str:
    """Record the provider's signed confirmation. Idempotent: only a pending payment moves, once;
    a second delivery, or one for an unknown session or with other amounts, changes nothing.
    Returns what happened ("succeeded", "failed", "duplicate", "ignored")."""
    if event.is_setup:
        return _apply_card_setup(session, event=event)
    pay = session.exec(select(Payment).where(Payment.provider_ref == event.session_id)).first()
    if pay is None or pay.id is None or f"pay_{pay.id}" != event.reference:
        return "ignored"
    if pay.amount_cents != event.amount_cents or pay.currency.upper() != event.currency:
        audit.record(session, action="billing.payment_mismatch", customer_id=pay.customer_id, target_type="payment",
                     target_id=pay.id, outcome="denied", event_id=event.id)
        return "ignored"
    label = f"{event.card.brand.capitalize()} •••• {event.card.last4}" if event.card else ""
    new_status = PaymentStatus.SUCCEEDED if event.succeeded else PaymentStatus.FAILED
    reason = (event.failure_message or N_("The payment was declined.")) if not event.succeeded else ""
    # The conditional update is the idempotency lock: of concurrent deliveries exactly one moves it.
    moved = session.execute(
        update(Payment).where(col(Payment.id) == pay.id, col(Payment.status) == PaymentStatus.PENDING)
        .values(status=new_status, completed_at=utcnow(), method_label=label[:60], failure_reason=reason[:200])
    )
    if getattr(moved, "rowcount", 0) != 1:
        return "duplicate"
    session.refresh(pay)
    if event.succeeded:
        payment_succeeded(session, pay, event_id=event.id)
    else:
        payment_failed(session, pay, event_id=event.id, code=event.failure_code)
    return str(new_status)


def _invoice_of(session: Session, pay: Payment) -> tuple[Invoice | None, str]:
    inv = session.get(Invoice, pay.invoice_id) if pay.invoice_id else None
    return inv, inv.number if inv else ""


def payment_succeeded(session: Session, pay: Payment, *, event_id: str) -> None:
    """What follows a payment that just moved to succeeded (exactly once, by the caller's conditional
    update): the invoice's paid amount, store credit for an overpayment, the receipt, the news."""
    now = utcnow()
    inv, number = _invoice_of(session, pay)
    overpaid = 0
    was_open = inv is not None and inv.status == InvoiceStatus.OPEN
    if inv is not None and inv.id is not None:
        # Two checkouts for one invoice can both be paid: what exceeds the balance becomes store
        # credit instead of being lost. Both updates are single statements (no lost update).
        overpaid = max(0, pay.amount_cents - max(0, inv.total_cents - inv.amount_paid_cents)) \
            if inv.status == InvoiceStatus.OPEN else pay.amount_cents
        session.execute(update(Invoice).where(col(Invoice.id) == inv.id).values(
            amount_paid_cents=col(Invoice.amount_paid_cents) + (pay.amount_cents - overpaid)))
        session.execute(update(Invoice).where(
            col(Invoice.id) == inv.id, col(Invoice.status) == InvoiceStatus.OPEN,
            col(Invoice.amount_paid_cents) >= col(Invoice.total_cents)).values(status=InvoiceStatus.PAID,
                                                                               paid_at=now))
        session.refresh(inv)
    if overpaid:
        session.add(CreditEntry(customer_id=pay.customer_id, amount_cents=overpaid, currency=pay.currency,
                                reason=sw.CREDIT_REASONS.write(sw.OVERPAYMENT, number=number)[:200],
                                invoice_id=pay.invoice_id))
    audit.record(session, action="billing.payment_succeeded", customer_id=pay.customer_id,
                 target_type="payment", target_id=pay.id or "", event_id=event_id, invoice=number)
    paid_now = was_open and inv is not None and inv.status == InvoiceStatus.PAID
    outbox.enqueue(session, kind="invoice.paid" if paid_now else "payment.received",
                   customer_id=pay.customer_id,
                   payload={"invoice_number": number, "amount_cents": pay.amount_cents, "currency": pay.currency,
                            "provider": pay.provider, "provider_ref": pay.provider_ref})
    notify_customer(session, customer_id=pay.customer_id, kind=NotificationKind.BILLING,
                    title=lambda: (tr("Payment received for {number}", number=number) if number
                                   else tr("Payment received")),
                    body=lambda: (tr("Thank you: we received {amount} ({method}).",
                                     amount=money(pay.amount_cents, pay.currency), method=pay.method_label)
                                  if pay.method_label else
                                  tr("Thank you: we received {amount}.", amount=money(pay.amount_cents, pay.currency))),
                    link=f"/billing/invoices/{inv.id}" if inv else "/billing")
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=pay.customer_id,
                                     data={"invoice_id": pay.invoice_id}))


def payment_failed(session: Session, pay: Payment, *, event_id: str, code: str) -> None:
    inv, number = _invoice_of(session, pay)
    audit.record(session, action="billing.payment_failed", customer_id=pay.customer_id, target_type="payment",
                 target_id=pay.id or "", outcome="failed", event_id=event_id, code=code)
    notify_customer(session, customer_id=pay.customer_id, kind=NotificationKind.BILLING,
                    title=lambda: tr("Payment for {number} failed", number=number) if number else tr("Payment failed"),
                    body=lambda: tr("{reason} The invoice is still due; you can try again with another card.",
                                    reason=tr(pay.failure_reason)),
                    link=f"/billing/invoices/{inv.id}" if inv else "/billing")
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=pay.customer_id,
                                     data={"invoice_id": pay.invoice_id}))


# -- saved cards ------------------------------------------------------------------------------------


def start_card_setup(session: Session, *, principal: Principal, provider_base_url: str, return_url: str,
                     request: audit.RequestInfo = audit.NO_REQUEST) -> str:
    """The provider's hosted page to save a card; the card arrives by signed webhook, as a token."""
    customer_id = require_customer(principal)
    provider = provider_for(provider_base_url)
    if isinstance(provider, StripeProvider):
        setup = _stripe_card_setup(session, provider, customer_id=customer_id, return_url=return_url)
    else:
        setup = provider.create_card_setup(reference=f"cus_{customer_id}", return_url=return_url)
    audit.record(session, action="billing.card_setup_started", principal=principal, target_type="customer",
                 target_id=customer_id, request=request, setup_session=setup.id)
    return setup.url


def _stripe_card_setup(session: Session, provider: StripeProvider, *, customer_id: int,
                       return_url: str) -> provider_api.CheckoutSession:
    """Stripe keeps saved cards on a Stripe Customer: made once (keyed by the portal's customer), then
    a Checkout Session in setup mode. No transaction stays open while Stripe is asked."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer")
    session.commit()
    try:
        if not customer.stripe_customer_id:
            stripe_id = provider.create_customer(
                email=customer.email, name=customer.name, reference=f"cus_{customer_id}",
                idempotency_key=idempotency_key("customer", customer_id, customer.created_at))
            session.execute(update(Customer).where(col(Customer.id) == customer_id,
                                                   col(Customer.stripe_customer_id).is_(None))
                            .values(stripe_customer_id=stripe_id))
            session.commit()
            session.refresh(customer)
        assert customer.stripe_customer_id
        return provider.create_card_setup(reference=f"cus_{customer_id}", return_url=return_url,
                                          customer=customer.stripe_customer_id, currency=customer.currency,
                                          idempotency_key=f"portal-setup-{customer_id}-{secrets.token_hex(8)}")
    except stripe.StripeError as err:
        log.warning("Stripe refused a card setup for customer %s: %s", customer_id, err)
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Saving a card is not available right now. "
                                                 "Please try again in a few minutes.")) from err


def saved_stripe_cards(session: Session, *, principal: Principal) -> list[CardOut]:
    """The customer's cards saved at Stripe (those a payment can be charged to)."""
    customer_id = require_customer(principal)
    if get_settings().payments_provider != "stripe":
        return []
    return [c for c in cards(session, principal=principal) if not c.expired and c.id in set(session.exec(
        select(PaymentMethod.id).where(PaymentMethod.customer_id == customer_id,
                                       PaymentMethod.provider == "stripe")).all())]


def pay_with_saved_card(session: Session, *, principal: Principal, invoice_id: int, card_id: int,
                        provider_base_url: str, return_url: str,
                        request: audit.RequestInfo = audit.NO_REQUEST) -> CheckoutStarted | None:
    """Charge the invoice's balance to a saved card, off-session. None when Stripe took it (its event
    confirms it); a hosted checkout when the bank wants the customer to confirm (3-D Secure)."""
    inv = own_invoice(session, principal=principal, invoice_id=invoice_id)
    card = _own_card(session, principal, card_id)
    customer = session.get(Customer, inv.customer_id)
    open_cents = inv.total_cents - inv.amount_paid_cents
    if inv.kind != InvoiceKind.INVOICE or inv.status != InvoiceStatus.OPEN or open_cents <= 0:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This invoice has nothing left to pay."))
    provider = provider_for(provider_base_url)
    if not isinstance(provider, StripeProvider) or card.provider != "stripe" or customer is None \
            or not customer.stripe_customer_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This card cannot be charged here; pay on the payment page."))
    label = f"{card.brand.capitalize()} •••• {card.last4}"
    pay = Payment(customer_id=inv.customer_id, invoice_id=inv.id, order_id=inv.order_id, amount_cents=open_cents,
                  currency=inv.currency, method="card", method_label=label, status=PaymentStatus.PENDING,
                  provider=provider.name)
    session.add(pay)
    session.flush()
    assert pay.id is not None
    audit.record(session, action="billing.payment_started", principal=principal, target_type="invoice",
                 target_id=inv.id or "", request=request, payment_id=pay.id, amount_cents=open_cents, saved_card=label)
    session.commit()
    try:
        intent = provider.charge_saved(amount_cents=open_cents, currency=inv.currency,
                                       customer=customer.stripe_customer_id, payment_method=card.provider_token,
                                       reference=f"pay_{pay.id}",
                                       idempotency_key=idempotency_key("charge", pay.id, pay.created_at))
    except stripe.CardError as err:
        # The payment stays pending until Stripe's payment_failed event says why (once).
        if err.code == "authentication_required":
            return start_payment(session, principal=principal, invoice_id=invoice_id,
                                 provider_base_url=provider_base_url, return_url=return_url, request=request)
        raise DomainError(ErrorCode.NOT_ALLOWED, str(err.user_message or tr("The card was declined."))) from err
    except stripe.StripeError as err:
        log.warning("Stripe refused an off-session payment for pay_%s: %s", pay.id, err)
        pay.status, pay.failure_reason = PaymentStatus.FAILED, N_("The payment could not be started.")
        session.add(pay)
        session.commit()
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Online payment is not available right now. "
                                                 "Please try again in a few minutes.")) from err
    session.execute(update(Payment).where(col(Payment.id) == pay.id, col(Payment.provider_intent).is_(None))
                    .values(provider_intent=intent, provider_ref=intent))
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=inv.customer_id, data={"invoice_id": inv.id}))
    return None


def _apply_card_setup(session: Session, *, event: provider_api.PaymentEvent) -> str:
    # The reference is what this portal gave the provider, and the event is signed by the provider.
    ref = event.reference
    if not ref.startswith("cus_") or not ref[4:].isdigit():
        return "ignored"
    customer = session.get(Customer, int(ref[4:]))
    if customer is None or customer.id is None:
        return "ignored"
    if not event.succeeded:
        notify_customer(session, customer_id=customer.id, kind=NotificationKind.BILLING,
                        title=lambda: tr("Card not saved"),
                        body=lambda: event.failure_message or tr("The card was declined."), link="/billing")
        events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=customer.id))
        return "failed"
    card = event.card
    if card is None or not event.payment_method or not card.last4.isdigit() or len(card.last4) != 4:
        return "ignored"
    existing = session.exec(select(PaymentMethod).where(PaymentMethod.customer_id == customer.id,
                                                        PaymentMethod.provider_token == event.payment_method)).first()
    if existing is not None:
        return "duplicate"
    has_default = session.exec(select(PaymentMethod).where(PaymentMethod.customer_id == customer.id,
                                                           PaymentMethod.is_default == True)).first()  # noqa: E712
    session.add(PaymentMethod(customer_id=customer.id, provider="simulator", provider_token=event.payment_method,
                              brand=card.brand[:20], last4=card.last4, exp_month=card.exp_month,
                              exp_year=card.exp_year, is_default=has_default is None))
    audit.record(session, action="billing.card_added", customer_id=customer.id, target_type="customer",
                 target_id=customer.id, brand=card.brand, last4=card.last4, event_id=event.id)
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=customer.id))
    return "saved"


def cards(session: Session, *, principal: Principal) -> list[CardOut]:
    customer_id = require_customer(principal)
    now = utcnow()
    rows = session.exec(select(PaymentMethod).where(PaymentMethod.customer_id == customer_id)
                        .order_by(col(PaymentMethod.is_default).desc(), col(PaymentMethod.id))).all()
    return [CardOut(id=r.id or 0, brand=r.brand, last4=r.last4, exp_month=r.exp_month, exp_year=r.exp_year,
                    is_default=r.is_default, expired=(r.exp_year, r.exp_month) < (now.year, now.month)) for r in rows]


def _own_card(session: Session, principal: Principal, card_id: int) -> PaymentMethod:
    customer_id = require_customer(principal)
    card = session.get(PaymentMethod, card_id)
    if card is None or card.customer_id != customer_id:
        raise NotFound("payment method")
    return card


def set_default_card(session: Session, *, principal: Principal, card_id: int) -> None:
    card = _own_card(session, principal, card_id)
    session.execute(update(PaymentMethod).where(col(PaymentMethod.customer_id) == card.customer_id)
                    .values(is_default=False))
    session.execute(update(PaymentMethod).where(col(PaymentMethod.id) == card.id).values(is_default=True))
    audit.record(session, action="billing.card_default", principal=principal, target_type="payment_method",
                 target_id=card.id or "")
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=card.customer_id))


def remove_card(session: Session, *, principal: Principal, card_id: int) -> None:
    card = _own_card(session, principal, card_id)
    was_default = card.is_default
    session.delete(card)
    session.flush()
    if was_default:
        nxt = session.exec(select(PaymentMethod).where(PaymentMethod.customer_id == card.customer_id)
                           .order_by(col(PaymentMethod.id))).first()
        if nxt is not None:
            nxt.is_default = True
            session.add(nxt)
    audit.record(session, action="billing.card_removed", principal=principal, target_type="payment_method",
                 target_id=card_id, brand=card.brand, last4=card.last4)
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=card.customer_id))


def customer_of(session: Session, *, principal: Principal) -> Customer:
    customer = session.get(Customer, require_customer(principal))
    if customer is None:
        raise NotFound("customer")
    return customer
