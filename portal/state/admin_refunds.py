"""Admin: refunds through Stripe, of a return or of any part of a card payment."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import reflex as rx

from portal.db import session_scope
from portal.domain import billing, stripe_payments
from portal.domain.errors import DomainError
from portal.domain.events import Topic
from portal.format import money
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.state.base import FAILED, PortalState, on_loop
from portal.state.guard import Access, access
from portal.state.messages import message_for_error
from portal.state.session import server_url

_AMOUNT = re.compile(r"^\d{1,7}([.,]\d{1,2})?$")
REFUND_LABELS = {"pending": N_("Pending"), "succeeded": N_("Succeeded"), "failed": N_("Failed"),
                 "canceled": N_("Cancelled")}
RETURN_STATUS_NAMES = {"requested": N_("requested"), "approved": N_("approved"), "label_issued": N_("label issued"),
                       "in_transit": N_("in transit"), "received": N_("received"), "refunded": N_("refunded"),
                       "rejected": N_("rejected"), "cancelled": N_("cancelled")}


@dataclasses.dataclass
class PaymentView:
    id: int
    customer: str
    invoice: str
    amount: str
    refundable: str
    method: str
    can_refund: bool


@dataclasses.dataclass
class ReturnView:
    id: int
    number: str
    customer: str
    status: str
    amount: str


@dataclasses.dataclass
class RefundView:
    id: int
    customer: str
    amount: str
    status: str
    status_label: str
    note: str
    unsent: bool = False


def parse_cents(text: str) -> int | None:
    text = text.strip().replace(" ", "")
    if not _AMOUNT.match(text):
        return None
    whole, _, frac = text.replace(",", ".").partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


@access(Access.ADMIN)
@listens(Topic.BILLING)
class AdminRefundsState(PortalState, rx.State):
    loaded: bool = False
    payments: list[PaymentView] = []
    returns: list[ReturnView] = []
    refunds: list[RefundView] = []
    error: str = ""
    notice: str = ""
    # The payment whose refund form is open, and what was typed there.
    open_payment: int = 0
    amount: str = ""
    amount_error: str = ""
    _shown_payments: set[int] = set()
    _shown_returns: set[int] = set()
    _shown_unsent: set[int] = set()

    def _reload(self) -> None:
        with session_scope() as db:
            desk = stripe_payments.refund_desk(db, principal=self._me())
        self.payments = [PaymentView(id=p.id, customer=p.customer, invoice=p.invoice,
                                     amount=money(p.amount_cents, p.currency),
                                     refundable=money(p.refundable_cents, p.currency), method=p.method_label,
                                     can_refund=p.refundable_cents > 0 and p.status == "succeeded")
                         for p in desk.payments]
        self.returns = [ReturnView(id=r.id, number=r.number, customer=r.customer,
                                   status=tr(RETURN_STATUS_NAMES.get(r.status, r.status.replace("_", " "))),
                                   amount=money(r.refund_cents, r.currency)) for r in desk.returns]
        self.refunds = [RefundView(id=r.id, customer=r.customer, amount=money(r.amount_cents, r.currency),
                                   status=r.status, status_label=tr(REFUND_LABELS.get(r.status, r.status)),
                                   note=r.failure_reason or r.reason, unsent=r.unsent) for r in desk.refunds]
        self._shown_payments = {p.id for p in self.payments if p.can_refund}
        self._shown_returns = {r.id for r in self.returns}
        self._shown_unsent = {r.id for r in self.refunds if r.unsent}
        self.loaded = True

    @rx.event
    def load(self) -> None:
        self.error = self.notice = self.amount_error = ""
        self.open_payment = 0
        self._reload()

    @rx.event
    @on_loop
    def choose_payment(self, payment_id: int) -> None:
        if isinstance(payment_id, int) and not isinstance(payment_id, bool) and payment_id in self._shown_payments:
            self.open_payment, self.amount, self.amount_error = payment_id, "", ""

    @rx.event
    @on_loop
    def set_amount(self, value: str) -> None:
        if isinstance(value, str):
            self.amount = value[:20]

    def _send(self, refund_ids: list[int], done: str) -> None:
        try:
            provider = billing.stripe_provider(server_url(self))
        except DomainError as err:
            # Stripe is not configured (any more): the prepared refunds stay pending, shown below.
            self.error, self.notice = message_for_error(err), ""
            self._reload()
            return
        states = [stripe_payments.send_refund(session_scope, refund_id=rid, provider=provider) for rid in refund_ids]
        if "failed" in states:
            self.error, self.notice = tr("Stripe refused the refund; see the list below for why."), ""
        elif stripe_payments.UNSENT in states:
            self.error, self.notice = tr("Stripe could not be reached. The refund is kept as pending: send it "
                                         "again in a moment (it cannot be paid out twice)."), ""
        else:
            self.error, self.notice = "", done
        self._reload()

    @rx.event
    def refund_payment(self) -> None:
        payment_id = self.open_payment
        if payment_id not in self._shown_payments:
            return
        cents = parse_cents(self.amount)
        if cents is None or cents <= 0:
            self.amount_error = tr("Amount: enter the amount to refund, like 25.00.")
            return
        rid = self._call(stripe_payments.prepare_refund, into="amount_error", payment_id=payment_id,
                         amount_cents=cents, reason="Refund by the business")
        if rid is FAILED:
            return
        self.open_payment, self.amount, self.amount_error = 0, "", ""
        self._send([rid], tr("Refund sent to Stripe. It shows as pending until the bank confirms it."))

    @rx.event
    def send_again(self, refund_id: Any) -> None:
        if isinstance(refund_id, int) and not isinstance(refund_id, bool) and refund_id in self._shown_unsent:
            self._send([refund_id], tr("Refund sent to Stripe. It shows as pending until the bank confirms it."))

    @rx.event
    def refund_return(self, return_id: Any) -> None:
        if not isinstance(return_id, int) or isinstance(return_id, bool) or return_id not in self._shown_returns:
            return
        ids = self._call(stripe_payments.prepare_return_refund, return_id=return_id)
        if ids is FAILED:
            return
        self._send(ids, tr("The return is marked received and its refund was sent to Stripe."))
