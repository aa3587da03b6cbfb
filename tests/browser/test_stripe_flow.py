"""Customers pay through Stripe (the portal's Stripe adapter and the official library, against the
bundled Stripe simulator) in the browser: a declined card, a 3-D Secure challenge, a SEPA debit that
is processing for a while, a new order paid at its review; the business refunds a return and part
of a payment, and the customer follows the refund on the invoice and in her payments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from portal.format import money
from portal.integrations import stripe_simulator
from portal.models import (
    Invoice,
    InvoiceStatus,
    Order,
    OrderLine,
    Payment,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    Return,
    ReturnStatus,
    User,
)
from portal.seed.demo import ADMIN_EMAIL, DEMO_PASSWORD
from portal.settings import reset_settings_cache
from tests.browser.test_billing_flow import open_due_invoice
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def stripe_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYMENTS_PROVIDER", "stripe")
    # The bank takes its time with direct debits: here until the test says it confirmed.
    monkeypatch.setattr(stripe_simulator, "SEPA_SETTLE_SECONDS", 3600.0)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def to_stripe(page: Any) -> None:
    page.get_by_test_id("pay-now").click()
    page.wait_for_url(re.compile(r"/_simulator/stripe/checkout/cs_test_"))


def back_on_invoice(page: Any) -> None:
    page.wait_for_url(re.compile(r"/billing/invoices/\d+"))


def newest_payment(db: Session, number: str) -> Payment:
    db.expire_all()
    inv = db.exec(select(Invoice).where(Invoice.number == number)).one()
    return db.exec(select(Payment).where(Payment.invoice_id == inv.id).order_by(col(Payment.id).desc())).first()


def test_declined_then_3ds_then_paid_and_a_sepa_debit_processing_then_paid(page: Any, demo: Any,
                                                                           db: Session) -> None:
    # Given Ben on his overdue invoice
    number = open_due_invoice(page, "ben@example.com")
    # When his card is declined on Stripe's page, it says so there, and he goes back
    to_stripe(page)
    page.click("#pay-decline")
    page.get_by_test_id("stripe-error").get_by_text("Your card was declined.").wait_for()
    page.click("#cancel")
    back_on_invoice(page)
    # Then the invoice says why it is still due (once Stripe's event arrived), and offers to pay again
    page.get_by_test_id("payment-failure").get_by_text("Your card was declined.").wait_for(timeout=20_000)
    assert page.get_by_test_id("invoice-status").inner_text() == "Overdue"
    # When he pays again and his bank asks for 3-D Secure, which he completes
    to_stripe(page)
    page.click("#pay-3ds")
    page.click("#complete-3ds")
    back_on_invoice(page)
    # Then the invoice turns paid by itself, with the card that paid it
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
    page.get_by_test_id("attempt-row").get_by_text("Visa •••• 3184").first.wait_for()
    assert page.get_by_test_id("pay-now").count() == 0
    assert db.exec(select(Invoice).where(Invoice.number == number)).one().status == InvoiceStatus.PAID

    # Given another open invoice of his (Chloe's trade invoice, to her)
    page.context.clear_cookies()
    number = open_due_invoice(page, "chloe@example.com")
    # When she pays by SEPA Direct Debit
    to_stripe(page)
    page.click("#pay-sepa")
    back_on_invoice(page)
    # Then the invoice shows the payment processing, and offers no second payment meanwhile
    page.get_by_test_id("payment-processing").wait_for(timeout=20_000)
    assert page.get_by_test_id("pay-now").count() == 0
    assert page.get_by_test_id("invoice-status").inner_text() != "Paid"
    # When the bank confirms the debit, the open page turns paid by itself
    pay = newest_payment(db, number)
    assert pay.status == PaymentStatus.PROCESSING and pay.provider_intent
    assert stripe_simulator.settle_sepa(pay.provider_intent)
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
    assert page.get_by_test_id("payment-processing").count() == 0


def test_a_new_order_paid_at_review_then_a_return_and_a_refund_the_customer_follows(page: Any, demo: Any,
                                                                                   db: Session) -> None:
    # Given Alice reordering a delivered order
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
    past = db.exec(select(Order).where(Order.customer_id == alice.customer_id, Order.status == "delivered")).first()
    assert past is not None
    page.goto(f"/orders/new?from={past.id}")
    page.get_by_test_id("draft-line").first.wait_for()
    page.get_by_test_id("review-order").click()
    reviewed = page.get_by_test_id("review-total").inner_text()
    # When she places it and pays now, on Stripe's page
    page.get_by_test_id("place-and-pay").click()
    page.wait_for_url(re.compile(r"/_simulator/stripe/checkout/cs_test_"))
    assert reviewed.replace("€", "").replace(",", "") in page.get_by_test_id("stripe-amount").inner_text()
    page.click("#pay-success")
    # Then she is back on the new order's invoice, which turns paid
    back_on_invoice(page)
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
    assert page.get_by_test_id("invoice-total").inner_text() == reviewed
    invoice_url = page.url.split("?")[0]
    db.expire_all()
    order = db.exec(select(Order).where(Order.customer_id == alice.customer_id).order_by(col(Order.id).desc())).first()
    assert order is not None and order.id != past.id

    # Given a return of one of its items on its way back, to be refunded to the card (half its value:
    # it was worn)
    line = db.exec(select(OrderLine).where(OrderLine.order_id == order.id)).first()
    assert line is not None
    ret = Return(number=f"R-{order.number}", order_id=order.id or 0, customer_id=order.customer_id,
                 status=ReturnStatus.IN_TRANSIT, reason="changed_mind", refund_method=RefundMethod.ORIGINAL,
                 refund_cents=line.unit_price_cents // 2, currency=order.currency)
    db.add(ret)
    db.commit()
    ret_number, ret_id, ret_cents = ret.number, ret.id, ret.refund_cents

    # When the business, on its refunds page, marks the return received and refunds it
    admin = page.context.browser.new_context(base_url=page.url.split("/billing")[0])
    staff = admin.new_page()
    staff.set_default_timeout(30_000)
    sign_in(staff, ADMIN_EMAIL, DEMO_PASSWORD)
    staff.wait_for_url(re.compile(r"/agent"))
    staff.goto("/admin/refunds")
    row = staff.get_by_test_id("return-to-refund").filter(has_text=ret_number)
    row.get_by_test_id("refund-return").click()
    # Then the refund is on its way, and succeeds once Stripe confirms it
    staff.get_by_test_id("refund-row").filter(has_text="Succeeded").first.wait_for(timeout=20_000)
    db.expire_all()
    done = db.exec(select(Refund).where(Refund.return_id == ret_id)).one()
    assert done.status == RefundStatus.SUCCEEDED and done.provider_ref and done.amount_cents == ret_cents
    assert db.get(Return, ret_id).status == ReturnStatus.REFUNDED

    # When the business refunds part of another payment by hand: a wrong amount names the field
    staff.get_by_test_id("payment-to-refund").first.get_by_test_id("open-refund").click()
    staff.get_by_test_id("refund-amount").fill("ten")
    staff.get_by_test_id("confirm-refund").click()
    staff.get_by_test_id("refund-amount-error").get_by_text("Amount").wait_for()
    assert staff.get_by_test_id("refund-amount").input_value() == "ten"
    staff.get_by_test_id("refund-amount").fill("1.50")
    staff.get_by_test_id("confirm-refund").click()
    staff.get_by_test_id("refund-row").filter(has_text="€1.50").first.wait_for()
    admin.close()

    # Then Alice sees the refunds on the invoice and among her payments
    page.goto(invoice_url)
    note = page.get_by_test_id("refund-note").first
    note.wait_for()
    refund_text = f"Refund {money(ret_cents, 'EUR')}: sent"
    page.wait_for_function("t => [...document.querySelectorAll('[data-testid=refund-note]')]"
                           ".some(e => e.innerText.includes(t))", arg=refund_text, timeout=20_000)
    page.goto("/billing")
    page.get_by_test_id("refund-note").first.wait_for()
    assert refund_text in " ".join(page.get_by_test_id("refund-note").all_inner_texts())


def test_save_a_card_at_stripe_then_pay_an_invoice_with_it(page: Any, demo: Any, db: Session) -> None:
    # Given Ben on his billing page
    number = open_due_invoice(page, "ben@example.com")
    assert page.get_by_test_id("pay-saved-card").count() == 0  # no card saved at Stripe yet
    page.goto("/billing")
    # When he saves a card on Stripe's page
    page.get_by_test_id("add-card").click()
    page.wait_for_url(re.compile(r"/_simulator/stripe/checkout/cs_test_"))
    page.click("#save-card")
    page.wait_for_url(re.compile(r"/billing/?\?checkout=done$"))
    # Then it is among his cards (brand and last four, from Stripe's event)
    page.get_by_test_id("card-row").get_by_text("Visa •••• 4242").wait_for(timeout=20_000)
    # When he pays his overdue invoice with it, without leaving the page
    page.get_by_role("link", name=number).first.click()
    page.get_by_test_id("pay-saved-card").get_by_text("Visa •••• 4242").click()
    # Then the invoice turns paid by itself
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
    assert "/billing/invoices/" in page.url
    db.expire_all()
    assert db.exec(select(Invoice).where(Invoice.number == number)).one().status == InvoiceStatus.PAID
