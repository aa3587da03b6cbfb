"""Stripe's events applied to payments and refunds, and refunds asked of Stripe.

Every event counts once: its id is stored (ProviderEvent, unique) in the same transaction that
applies it, so a second delivery, or many at once, fails on the unique key and changes nothing.
Events may come in any order: a payment only moves forward (succeeded is final; processing and
failed follow the newest event by its `created` time), a refund only leaves "pending" once, and
the refunded amount only grows. Amounts and currencies are checked against the portal's before
anything moves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import stripe
from sqlalchemy import update
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, billing, events, outbox
from portal.domain.errors import DomainError, ErrorCode, Invalid, NotFound
from portal.domain.events import DomainEvent, Topic
from portal.domain.notifications import Text, notify_customer, notify_user
from portal.domain.principal import Principal, require_admin
from portal.format import money
from portal.i18n import N_, tr
from portal.integrations.stripe_provider import MethodDetails, StripeProvider, portal_cents
from portal.models import (
    Customer,
    Invoice,
    NotificationKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ProviderEvent,
    Refund,
    RefundStatus,
    Return,
    ReturnStatus,
    Role,
    User,
)

log = logging.getLogger(__name__)
PROVIDER = "stripe"
# The event types this portal applies (register these for the webhook endpoint).
EVENT_TYPES = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
               "checkout.session.async_payment_failed", "payment_intent.succeeded", "payment_intent.processing",
               "payment_intent.payment_failed", "charge.refunded", "refund.updated", "refund.failed",
               "charge.dispute.created")
UNSENT = "unsent"
_OPEN = (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED)


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    event_id: str
    created: int
    method: MethodDetails | None
    # A saved card's (payment method id, Stripe customer, details), read from Stripe for setup sessions.
    saved: tuple[str, str, MethodDetails] | None = None


def apply_event(session: Session, *, event: dict[str, Any], method: MethodDetails | None = None,
                saved: tuple[str, str, MethodDetails] | None = None) -> str:
    """Apply one verified Stripe event. Raises sqlalchemy's IntegrityError when the event id was
    already applied (the caller answers "duplicate"); returns what happened otherwise."""
    kind = str(event["type"])
    handler = _HANDLERS.get(kind)
    if handler is None:
        return "ignored"
    row = ProviderEvent(provider=PROVIDER, event_id=str(event["id"])[:100], type=kind[:60])
    session.add(row)
    session.flush()  # the unique key: a concurrent or repeated delivery stops here
    ctx = Context(event_id=row.event_id, created=int(event.get("created") or 0), method=method, saved=saved)
    outcome = handler(session, event["data"]["object"], ctx)
    row.outcome = outcome[:30]
    session.add(row)
    return outcome


# -- payments ----------------------------------------------------------------------------------------


def _reference(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(obj.get("client_reference_id") or (meta or {}).get("portal_ref") or "")


def _payment(session: Session, obj: dict[str, Any], *, session_id: str = "", intent_id: str = "") -> Payment | None:
    """The portal's payment an object names: by the reference the portal gave Stripe, and only if
    the ids Stripe reports agree with the ones the portal holds."""
    ref = _reference(obj)
    pay: Payment | None = None
    if ref.startswith("pay_") and ref[4:].isdigit():
        pay = session.get(Payment, int(ref[4:]))
    elif intent_id:
        pay = session.exec(select(Payment).where(Payment.provider_intent == intent_id)).first()
    if pay is None or pay.id is None or pay.provider != PROVIDER:
        return None
    if session_id and pay.provider_ref != session_id:
        return None
    if intent_id and pay.provider_intent and pay.provider_intent != intent_id:
        return None
    if intent_id and not pay.provider_intent:
        session.execute(update(Payment).where(col(Payment.id) == pay.id, col(Payment.provider_intent).is_(None))
                        .values(provider_intent=intent_id[:100]))
        session.refresh(pay)
    return pay


def _amount_agrees(session: Session, pay: Payment, amount: Any, currency: Any, ctx: Context) -> bool:
    cur = str(currency or "")
    ok = isinstance(amount, int) and cur.lower() == pay.currency.lower() \
        and portal_cents(amount, cur) == pay.amount_cents
    if not ok:
        audit.record(session, action="billing.payment_mismatch", customer_id=pay.customer_id, target_type="payment",
                     target_id=pay.id or "", outcome="denied", event_id=ctx.event_id, stripe_amount=str(amount)[:20],
                     stripe_currency=cur[:3], portal_amount=pay.amount_cents, portal_currency=pay.currency)
    return ok


def _label(pay: Payment, ctx: Context) -> str:
    return (ctx.method.label if ctx.method else "") or pay.method_label


def _move(session: Session, pay: Payment, status: PaymentStatus, ctx: Context, *, reason: str = "") -> bool:
    """One conditional update: of concurrent or repeated deliveries at most one moves the payment.
    Succeeded is final; processing and failed follow the newest event."""
    cond = [col(Payment.id) == pay.id, col(Payment.status).in_(_OPEN)]
    if status != PaymentStatus.SUCCEEDED:
        cond.append(col(Payment.provider_event_at) <= ctx.created)
    values: dict[str, Any] = {"status": status, "provider_event_at": ctx.created, "method_label": _label(pay, ctx)[:60],
                              "failure_reason": reason[:200]}
    if status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        values["completed_at"] = utcnow()
    moved = session.execute(update(Payment).where(*cond).values(**values))
    if getattr(moved, "rowcount", 0) != 1:
        return False
    session.refresh(pay)
    return True


def _succeed(session: Session, pay: Payment, ctx: Context) -> str:
    if not _move(session, pay, PaymentStatus.SUCCEEDED, ctx):
        _keep_label(session, pay, ctx)
        return "duplicate"
    billing.payment_succeeded(session, pay, event_id=ctx.event_id)
    return "succeeded"


def _keep_label(session: Session, pay: Payment, ctx: Context) -> None:
    """A late event may still say what paid (brand and last four) when an earlier one did not."""
    if ctx.method and not pay.method_label:
        session.execute(update(Payment).where(col(Payment.id) == pay.id, col(Payment.method_label) == "")
                        .values(method_label=ctx.method.label[:60]))


def _processing(session: Session, pay: Payment, ctx: Context) -> str:
    if pay.status == PaymentStatus.PROCESSING or not _move(session, pay, PaymentStatus.PROCESSING, ctx):
        _keep_label(session, pay, ctx)
        return "duplicate"
    audit.record(session, action="billing.payment_processing", customer_id=pay.customer_id, target_type="payment",
                 target_id=pay.id or "", event_id=ctx.event_id)
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=pay.customer_id,
                                     data={"invoice_id": pay.invoice_id}))
    return "processing"


def _fail(session: Session, pay: Payment, ctx: Context, *, code: str, message: str) -> str:
    if not _move(session, pay, PaymentStatus.FAILED, ctx, reason=message or N_("The payment was declined.")):
        return "duplicate"
    billing.payment_failed(session, pay, event_id=ctx.event_id, code=code)
    return "failed"


def _checkout_session(session: Session, obj: dict[str, Any], ctx: Context, *, outcome: str) -> str:
    if obj.get("mode") == "setup" and not outcome:
        return _card_saved(session, obj, ctx)
    if obj.get("mode") != "payment":
        return "ignored"
    pay = _payment(session, obj, session_id=str(obj.get("id") or ""), intent_id=str(obj.get("payment_intent") or ""))
    if pay is None:
        return "ignored"
    if not _amount_agrees(session, pay, obj.get("amount_total"), obj.get("currency"), ctx):
        return "mismatch"
    if outcome == "failed":
        return _fail(session, pay, ctx, code="async_payment_failed", message=N_("The bank did not confirm the debit."))
    if outcome == "succeeded" or obj.get("payment_status") == "paid":
        return _succeed(session, pay, ctx)
    if obj.get("payment_status") == "unpaid":  # a delayed method (SEPA Direct Debit): settles later
        return _processing(session, pay, ctx)
    return "ignored"


def _card_saved(session: Session, obj: dict[str, Any], ctx: Context) -> str:
    """A card saved on Stripe's page: only its ids, brand, last four and expiry are kept. The unique
    (provider, token) key keeps concurrent deliveries from saving it twice."""
    ref = _reference(obj)
    customer = session.get(Customer, int(ref[4:])) if ref.startswith("cus_") and ref[4:].isdigit() else None
    if customer is None or customer.id is None or ctx.saved is None:
        return "ignored"
    pm_id, owner, card = ctx.saved
    if not customer.stripe_customer_id or owner != customer.stripe_customer_id \
            or obj.get("customer") != customer.stripe_customer_id or not card.last4.isdigit() or len(card.last4) != 4:
        return "ignored"
    if session.exec(select(PaymentMethod.id).where(PaymentMethod.provider == PROVIDER,
                                                   PaymentMethod.provider_token == pm_id)).first() is not None:
        return "duplicate"
    has_default = session.exec(select(PaymentMethod.id).where(PaymentMethod.customer_id == customer.id,
                                                              PaymentMethod.is_default == True)).first()  # noqa: E712
    session.add(PaymentMethod(customer_id=customer.id, provider=PROVIDER, provider_token=pm_id[:128],
                              brand=card.brand[:20], last4=card.last4, exp_month=card.exp_month,
                              exp_year=card.exp_year, is_default=has_default is None))
    session.flush()
    audit.record(session, action="billing.card_added", customer_id=customer.id, target_type="customer",
                 target_id=customer.id, brand=card.brand, last4=card.last4, event_id=ctx.event_id)
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=customer.id))
    return "saved"


def _intent_event(outcome: str) -> Callable[[Session, dict[str, Any], Context], str]:
    def handle(session: Session, obj: dict[str, Any], ctx: Context) -> str:
        pay = _payment(session, obj, intent_id=str(obj.get("id") or ""))
        if pay is None:
            return "ignored"
        if not _amount_agrees(session, pay, obj.get("amount"), obj.get("currency"), ctx):
            return "mismatch"
        if outcome == "succeeded":
            return _succeed(session, pay, ctx)
        if outcome == "processing":
            return _processing(session, pay, ctx)
        err = obj.get("last_payment_error") if isinstance(obj.get("last_payment_error"), dict) else {}
        return _fail(session, pay, ctx, code=str((err or {}).get("code") or "")[:60],
                     message=str((err or {}).get("message") or ""))
    return handle


# -- refunds -----------------------------------------------------------------------------------------

_REFUND_STATES = {"succeeded": RefundStatus.SUCCEEDED, "failed": RefundStatus.FAILED,
                  "canceled": RefundStatus.CANCELED}


def _refund_object(session: Session, obj: dict[str, Any], ctx: Context) -> str:
    rid = str(obj.get("id") or "")
    refund = session.exec(select(Refund).where(Refund.provider_ref == rid)).first() if rid else None
    ref = _reference(obj)
    if refund is None and ref.startswith("refund_") and ref[7:].isdigit():
        refund = session.get(Refund, int(ref[7:]))
        if refund is not None and refund.provider_ref not in (None, rid):
            refund = None
    if refund is None or refund.id is None:
        return "ignored"
    pay = session.get(Payment, refund.payment_id)
    if pay is None or not isinstance(obj.get("amount"), int) \
            or portal_cents(obj["amount"], str(obj.get("currency") or "")) != refund.amount_cents:
        audit.record(session, action="billing.refund_mismatch", customer_id=refund.customer_id, target_type="refund",
                     target_id=refund.id, outcome="denied", event_id=ctx.event_id)
        return "mismatch"
    if refund.provider_ref is None:
        session.execute(update(Refund).where(col(Refund.id) == refund.id, col(Refund.provider_ref).is_(None))
                        .values(provider_ref=rid[:100]))
    status = _REFUND_STATES.get(str(obj.get("status") or ""))
    if status is None:
        return "pending"
    reason = str(obj.get("failure_reason") or "").replace("_", " ")
    moved = session.execute(update(Refund).where(col(Refund.id) == refund.id,
                                                 col(Refund.status) == RefundStatus.PENDING)
                            .values(status=status, completed_at=utcnow(), failure_reason=reason[:200]))
    if getattr(moved, "rowcount", 0) != 1:
        return "duplicate"
    session.refresh(refund)
    _refund_settled(session, refund, pay, ctx)
    return str(status)


def _refund_settled(session: Session, refund: Refund, pay: Payment, ctx: Context) -> None:
    def amount() -> str:  # in each recipient's own format (called in their language)
        return money(refund.amount_cents, refund.currency)

    inv = session.get(Invoice, pay.invoice_id) if pay.invoice_id else None
    link = f"/billing/invoices/{inv.id}" if inv else "/billing"
    audit.record(session, action=f"billing.refund_{refund.status}", customer_id=refund.customer_id,
                 target_type="refund", target_id=refund.id or "", event_id=ctx.event_id,
                 amount_cents=refund.amount_cents)
    if refund.status == RefundStatus.SUCCEEDED:
        succeeded = sum(r.amount_cents for r in session.exec(select(Refund).where(
            Refund.payment_id == pay.id, Refund.status == RefundStatus.SUCCEEDED)).all())
        _refunded_at_least(session, pay, succeeded)
        if refund.return_id is not None:
            session.execute(update(Return).where(col(Return.id) == refund.return_id,
                                                 col(Return.status) != ReturnStatus.REFUNDED)
                            .values(status=ReturnStatus.REFUNDED, refunded_at=utcnow(), updated_at=utcnow()))
            events.emit(session, DomainEvent(topic=Topic.ORDERS, customer_id=refund.customer_id))
        outbox.enqueue(session, kind="payment.refunded", customer_id=refund.customer_id,
                       payload={"amount_cents": refund.amount_cents, "currency": refund.currency,
                                "invoice_number": inv.number if inv else "", "provider_ref": refund.provider_ref})
        notify_customer(session, customer_id=refund.customer_id, kind=NotificationKind.BILLING,
                        title=lambda: tr("Refund of {amount} sent", amount=amount()),
                        body=lambda: (tr("We refunded {amount} to {method}. Your bank may take a few days to show it.",
                                         amount=amount(), method=pay.method_label) if pay.method_label else
                                      tr("We refunded {amount} to your original payment method. Your bank may take "
                                         "a few days to show it.", amount=amount())), link=link)
    else:
        notify_customer(session, customer_id=refund.customer_id, kind=NotificationKind.BILLING,
                        title=lambda: tr("Refund of {amount} did not go through", amount=amount()),
                        body=lambda: tr("Your bank could not take the refund back. We will contact you to pay it "
                                        "another way."),
                        link=link)
        _tell_staff(session, title=lambda: tr("Refund {id} failed ({amount})", id=refund.id, amount=amount()),
                    body=lambda: tr("Stripe reports the refund failed: {reason}.",
                                    reason=tr(refund.failure_reason or N_("no reason given"))))
    _billing_news(session, pay)


def _billing_news(session: Session, pay: Payment) -> None:
    """The customer's billing pages and the admins' refunds page show it."""
    events.emit(session, DomainEvent(topic=Topic.BILLING, customer_id=pay.customer_id, roles=(Role.ADMIN.value,),
                                     data={"invoice_id": pay.invoice_id}))


def _refunded_at_least(session: Session, pay: Payment, cents: int) -> None:
    session.execute(update(Payment).where(col(Payment.id) == pay.id, col(Payment.refunded_cents) < cents)
                    .values(refunded_cents=cents))
    session.execute(update(Payment).where(col(Payment.id) == pay.id, col(Payment.status) == PaymentStatus.SUCCEEDED,
                                          col(Payment.refunded_cents) >= col(Payment.amount_cents))
                    .values(status=PaymentStatus.REFUNDED))
    session.refresh(pay)


def _charge_refunded(session: Session, obj: dict[str, Any], ctx: Context) -> str:
    pay = _payment(session, {}, intent_id=str(obj.get("payment_intent") or ""))
    if pay is None or str(obj.get("currency") or "").lower() != pay.currency.lower() \
            or not isinstance(obj.get("amount_refunded"), int):
        return "ignored"
    outcomes = []
    refunds = obj.get("refunds") if isinstance(obj.get("refunds"), dict) else {}
    for item in (refunds or {}).get("data") or []:
        if isinstance(item, dict):
            outcomes.append(_refund_object(session, item, ctx))
    before = pay.refunded_cents
    _refunded_at_least(session, pay, min(pay.amount_cents, portal_cents(obj["amount_refunded"], obj["currency"])))
    changed = pay.refunded_cents != before or any(o in ("succeeded", "failed", "canceled") for o in outcomes)
    if changed:
        _billing_news(session, pay)
    return "refunded" if changed else "duplicate"


# -- disputes ----------------------------------------------------------------------------------------


def _tell_staff(session: Session, *, title: Text, body: Text) -> None:
    """Each admin is told in their own language (title and body are worded per recipient)."""
    for admin in session.exec(select(User).where(User.role == Role.ADMIN, User.is_active == True)).all():  # noqa: E712
        notify_user(session, user=admin, kind=NotificationKind.BILLING, title=title, body=body, link="/admin")


def _dispute(session: Session, obj: dict[str, Any], ctx: Context) -> str:
    pay = _payment(session, {}, intent_id=str(obj.get("payment_intent") or ""))
    if pay is None:
        return "ignored"
    amount = portal_cents(int(obj.get("amount") or 0), str(obj.get("currency") or pay.currency))
    reason = str(obj.get("reason") or "general").replace("_", " ")
    inv = session.get(Invoice, pay.invoice_id) if pay.invoice_id else None
    audit.record(session, action="billing.dispute_opened", customer_id=pay.customer_id, target_type="payment",
                 target_id=pay.id or "", outcome="failed", event_id=ctx.event_id, dispute=str(obj.get("id"))[:60],
                 reason=reason[:60], amount_cents=amount)
    outbox.enqueue(session, kind="payment.disputed", customer_id=pay.customer_id,
                   payload={"invoice_number": inv.number if inv else "", "amount_cents": amount,
                            "currency": pay.currency, "reason": reason, "dispute": str(obj.get("id"))[:60]})
    _tell_staff(session, title=lambda: tr("Payment disputed: {number} ({amount})",
                                          number=inv.number if inv else tr("payment {id}", id=pay.id),
                                          amount=money(amount, pay.currency)),
                body=lambda: tr("The customer's bank opened a dispute ({reason}). Answer it in the Stripe dashboard "
                                "before its deadline, or the money goes back to the customer.", reason=reason))
    return "disputed"


_HANDLERS: dict[str, Callable[[Session, dict[str, Any], Context], str]] = {
    "checkout.session.completed": lambda s, o, c: _checkout_session(s, o, c, outcome=""),
    "checkout.session.async_payment_succeeded": lambda s, o, c: _checkout_session(s, o, c, outcome="succeeded"),
    "checkout.session.async_payment_failed": lambda s, o, c: _checkout_session(s, o, c, outcome="failed"),
    "payment_intent.succeeded": _intent_event("succeeded"),
    "payment_intent.processing": _intent_event("processing"),
    "payment_intent.payment_failed": _intent_event("failed"),
    "charge.refunded": _charge_refunded,
    "refund.updated": _refund_object,
    "refund.failed": _refund_object,
    "charge.dispute.created": _dispute,
}


# -- asking for a refund -----------------------------------------------------------------------------


def refundable_cents(session: Session, pay: Payment) -> int:
    """What is left to refund: the payment less refunds pending or done."""
    taken = sum(r.amount_cents for r in session.exec(select(Refund).where(
        Refund.payment_id == pay.id, col(Refund.status).in_((RefundStatus.PENDING, RefundStatus.SUCCEEDED)))).all())
    return pay.amount_cents - taken


def prepare_refund(session: Session, *, principal: Principal, payment_id: int, amount_cents: int, reason: str,
                   return_id: int | None = None) -> int:
    """Admins only. A pending refund row (its id keys the request to Stripe); send_refund asks Stripe
    after this transaction is committed."""
    staff = require_admin(principal)
    pay = session.get(Payment, payment_id)
    if pay is None or pay.id is None:
        raise NotFound("payment")
    if pay.provider != PROVIDER or pay.status != PaymentStatus.SUCCEEDED or not pay.provider_intent:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Only a settled Stripe payment can be refunded."))
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise Invalid(tr("Enter an amount above zero."), field="amount")
    left = refundable_cents(session, pay)
    if amount_cents > left:
        raise Invalid(tr("At most {amount} of this payment can still be refunded.", amount=money(left, pay.currency)),
                      field="amount")
    refund = Refund(payment_id=pay.id, customer_id=pay.customer_id, return_id=return_id, amount_cents=amount_cents,
                    currency=pay.currency, reason=reason.strip()[:200], requested_by_user_id=staff.user_id)
    session.add(refund)
    session.flush()
    assert refund.id is not None
    audit.record(session, action="billing.refund_requested", principal=principal, customer_id=pay.customer_id,
                 target_type="payment", target_id=pay.id, refund_id=refund.id, amount_cents=amount_cents)
    _billing_news(session, pay)
    return refund.id


def send_refund(session_factory: Callable[[], Any], *, refund_id: int, provider: StripeProvider) -> str:
    """Ask Stripe for a prepared refund, keyed by its id (a retry after a lost answer is the same
    refund, never a second one), and record what Stripe answered. Returns the refund's status."""
    with session_factory() as db:
        refund = db.get(Refund, refund_id)
        pay = db.get(Payment, refund.payment_id) if refund else None
        if refund is None or pay is None or not pay.provider_intent or refund.provider_ref:
            return refund.status if refund else "ignored"
        intent, amount, currency = pay.provider_intent, refund.amount_cents, refund.currency
        key = billing.idempotency_key("refund", refund_id, refund.created_at)
    try:
        result = provider.create_refund(payment_intent=intent, amount_cents=amount, currency=currency,
                                        reference=f"refund_{refund_id}", idempotency_key=key)
    except (stripe.InvalidRequestError, stripe.CardError) as err:
        with session_factory() as db:
            db.execute(update(Refund).where(col(Refund.id) == refund_id, col(Refund.status) == RefundStatus.PENDING)
                       .values(status=RefundStatus.FAILED, completed_at=utcnow(),
                               failure_reason=str(err.user_message or N_("Stripe refused the refund."))[:200]))
        return RefundStatus.FAILED
    except stripe.StripeError as err:
        # No answer (network, Stripe's own trouble): the refund stays pending and unsent; sending it
        # again is safe, with the same idempotency key.
        log.warning("refund %s not sent to Stripe: %s", refund_id, err)
        return UNSENT
    with session_factory() as db:
        db.execute(update(Refund).where(col(Refund.id) == refund_id, col(Refund.provider_ref).is_(None))
                   .values(provider_ref=result.id[:100]))
        status = _REFUND_STATES.get(result.status)
        refund = db.get(Refund, refund_id)
        pay = db.get(Payment, refund.payment_id) if refund else None
        if status is not None and refund is not None and pay is not None:
            moved = db.execute(update(Refund).where(col(Refund.id) == refund_id,
                                                    col(Refund.status) == RefundStatus.PENDING)
                               .values(status=status, completed_at=utcnow(), failure_reason=result.failure_reason))
            if getattr(moved, "rowcount", 0) == 1:
                db.refresh(refund)
                _refund_settled(db, refund, pay, Context(event_id="", created=0, method=None))
        return str(status or RefundStatus.PENDING)


def payments_of_order(session: Session, order_id: int) -> list[Payment]:
    return list(session.exec(select(Payment).where(
        Payment.order_id == order_id, Payment.provider == PROVIDER, Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(col(Payment.id))).all())


def prepare_return_refund(session: Session, *, principal: Principal, return_id: int) -> list[int]:
    """Admins: the return arrived; its value goes back to the card (or account) it was paid with,
    split over the order's Stripe payments if there were several. Returns the prepared refund ids."""
    require_admin(principal)
    ret = session.get(Return, return_id)
    if ret is None or ret.id is None:
        raise NotFound("return")
    if ret.status in (ReturnStatus.REFUNDED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED):
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This return is already settled."))
    if session.exec(select(Refund).where(Refund.return_id == ret.id,
                                         col(Refund.status).in_((RefundStatus.PENDING, RefundStatus.SUCCEEDED)))
                    ).first() is not None:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("This return's refund was already sent."))
    left = ret.refund_cents
    ids: list[int] = []
    for pay in payments_of_order(session, ret.order_id):
        take = min(left, refundable_cents(session, pay))
        if take > 0 and pay.id is not None:
            ids.append(prepare_refund(session, principal=principal, payment_id=pay.id, amount_cents=take,
                                      reason=f"Return {ret.number}", return_id=ret.id))
            left -= take
    if not ids or left > 0:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("No card payment of this order covers the refund."))
    session.execute(update(Return).where(col(Return.id) == ret.id)
                    .values(status=ReturnStatus.RECEIVED, received_at=ret.received_at or utcnow(),
                            updated_at=utcnow()))
    return ids


# -- what the admin page shows -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentToRefund:
    id: int
    customer: str
    invoice: str
    amount_cents: int
    refundable_cents: int
    currency: str
    method_label: str
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class ReturnToRefund:
    id: int
    number: str
    customer: str
    status: str
    refund_cents: int
    currency: str


@dataclasses.dataclass(frozen=True, slots=True)
class RefundRow:
    id: int
    customer: str
    amount_cents: int
    currency: str
    status: str
    reason: str
    failure_reason: str
    unsent: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class RefundDesk:
    payments: list[PaymentToRefund]
    returns: list[ReturnToRefund]
    refunds: list[RefundRow]


def refund_desk(session: Session, *, principal: Principal, limit: int = 50) -> RefundDesk:
    """Admin: recent Stripe payments (with what is left to refund), returns to be refunded to the
    original payment, and recent refunds with their state."""
    from portal.models import RefundMethod

    require_admin(principal)
    names = {c.id: c.name for c in session.exec(select(Customer)).all()}
    pays = session.exec(select(Payment, Invoice.number).join(Invoice, col(Payment.invoice_id) == Invoice.id,
                                                            isouter=True)
                        .where(Payment.provider == PROVIDER, col(Payment.status).in_(
                            (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)))
                        .order_by(col(Payment.id).desc()).limit(limit)).all()
    payments = [PaymentToRefund(id=p.id or 0, customer=names.get(p.customer_id, ""), invoice=n or "",
                                amount_cents=p.amount_cents, refundable_cents=max(0, refundable_cents(session, p)),
                                currency=p.currency, method_label=p.method_label, status=p.status) for p, n in pays]
    open_returns = session.exec(select(Return).where(
        Return.refund_method == RefundMethod.ORIGINAL, col(Return.status).in_(
            (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.LABEL_ISSUED, ReturnStatus.IN_TRANSIT,
             ReturnStatus.RECEIVED))).order_by(col(Return.id).desc()).limit(limit)).all()
    returns = [ReturnToRefund(id=r.id or 0, number=r.number, customer=names.get(r.customer_id, ""), status=r.status,
                              refund_cents=r.refund_cents, currency=r.currency) for r in open_returns
               if payments_of_order(session, r.order_id) and session.exec(select(Refund.id).where(
                   Refund.return_id == r.id, col(Refund.status).in_(
                       (RefundStatus.PENDING, RefundStatus.SUCCEEDED)))).first() is None]
    refunds = [RefundRow(id=r.id or 0, customer=names.get(r.customer_id, ""), amount_cents=r.amount_cents,
                         currency=r.currency, status=r.status, reason=r.reason, failure_reason=r.failure_reason,
                         unsent=r.status == RefundStatus.PENDING and not r.provider_ref)
               for r in session.exec(select(Refund).order_by(col(Refund.id).desc()).limit(limit)).all()]
    return RefundDesk(payments=payments, returns=returns, refunds=refunds)
