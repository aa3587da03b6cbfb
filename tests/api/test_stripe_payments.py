"""Payments through Stripe, over real HTTP: the portal runs as a server with PAYMENTS_PROVIDER=stripe,
its adapter uses the official `stripe` library against the bundled Stripe simulator, and the
simulator (or the test, for events it would not send by itself) posts signed events back."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from portal.domain import billing, stripe_payments
from portal.domain.errors import Forbidden, Invalid, NotFound
from portal.integrations import stripe_simulator
from portal.models import (
    AuditEvent,
    Invoice,
    InvoiceStatus,
    Notification,
    OutboundEvent,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ProviderEvent,
    Refund,
    RefundStatus,
    Role,
)
from portal.settings import reset_settings_cache
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_billing import make_billed_invoice
from tests.support.live_api import LiveApi, serve_api

SECRET = "whsec_simulator_development"
OLD_SECRET = "whsec_test_rolled_out_yesterday"  # still valid while the endpoint's secret is rotated
ENV = {"PAYMENTS_PROVIDER": "stripe", "STRIPE_WEBHOOK_SECRET": f"{SECRET},{OLD_SECRET}"}


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir, env=ENV) as server:
        yield server


@pytest.fixture(autouse=True)
def stripe_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def wait_for(check: Callable[[], Any], *, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def fresh(db: Session, row: Any) -> Any:
    db.expire_all()
    return db.get(type(row), row.id)


# -- through the simulator, end to end ---------------------------------------------------------------


def start(db: Session, api: LiveApi) -> tuple[Invoice, Payment, str]:
    user, customer = make_customer(db)
    inv = make_billed_invoice(db, customer)
    started = billing.start_payment(db, principal=principal_for(user), invoice_id=inv.id or 0,
                                    provider_base_url=api.url, return_url=f"{api.url}/billing/invoices/{inv.id}")
    db.commit()
    pay = db.get(Payment, started.payment_id)
    assert pay is not None
    return inv, pay, started.url


def choose(url: str, outcome: str) -> httpx.Response:
    with httpx.Client(timeout=20) as http:
        return http.post(url, data={"outcome": outcome})


def test_a_card_payment_goes_through_the_stripe_library_and_pays_the_invoice_once(db: Session,
                                                                                   api: LiveApi) -> None:
    # Given an open invoice whose customer starts paying it
    inv, pay, url = start(db, api)
    # Then Stripe (the simulator, through the official library) made a Checkout Session for its balance
    assert pay.provider == "stripe" and pay.provider_ref and pay.provider_ref.startswith("cs_test_")
    assert url == f"{api.url}/_simulator/stripe/checkout/{pay.provider_ref}"
    page = httpx.get(url, timeout=20)
    assert page.status_code == 200 and "134.95 EUR" in page.text and f"Invoice {inv.number}" in page.text
    # When the customer pays by card
    answer = choose(url, "success")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{api.url}/billing/invoices/{inv.id}?checkout=done"
    # Then the signed events arrive and the invoice is paid, once, with what paid it
    paid = wait_for(lambda: fresh(db, inv).status == InvoiceStatus.PAID)
    assert paid
    pay = wait_for(lambda: (p := fresh(db, pay)).method_label and p)
    assert pay.status == PaymentStatus.SUCCEEDED and pay.method_label == "Visa •••• 4242"
    assert pay.provider_intent and pay.provider_intent.startswith("pi_test_")
    assert fresh(db, inv).amount_paid_cents == inv.total_cents
    kinds = wait_for(lambda: len(rows := db.exec(select(ProviderEvent)).all()) == 2 and rows)
    assert sorted(r.type for r in kinds) == ["checkout.session.completed", "payment_intent.succeeded"]
    assert sorted(r.outcome for r in kinds) == ["duplicate", "succeeded"]
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "billing.payment_succeeded")).all()) == 1
    # And the session cannot be paid a second time
    assert choose(url, "success").status_code == 409


def test_a_decline_then_a_3ds_challenge_failed_then_passed(db: Session, api: LiveApi) -> None:
    inv, pay, url = start(db, api)
    # When the card is declined, Stripe's page says so and the portal records why
    declined = choose(url, "decline")
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    wait_for(lambda: fresh(db, pay).status == PaymentStatus.FAILED)
    assert fresh(db, pay).failure_reason == "Your card was declined."
    assert fresh(db, inv).status == InvoiceStatus.OPEN
    # When the bank asks for 3-D Secure and the customer fails it
    challenge = choose(url, "3ds")
    assert challenge.status_code == 200 and "3-D Secure" in challenge.text
    failed = httpx.post(f"{url}/3ds", data={"result": "fail"}, timeout=20)
    assert failed.status_code == 402 and "unable to authenticate" in failed.text
    wait_for(lambda: "authenticate" in fresh(db, pay).failure_reason)
    # When she tries again and completes the challenge, the same session's payment succeeds
    choose(url, "3ds")
    done = httpx.post(f"{url}/3ds", data={"result": "complete"}, timeout=20)
    assert done.status_code == 303
    wait_for(lambda: fresh(db, inv).status == InvoiceStatus.PAID)
    assert fresh(db, pay).status == PaymentStatus.SUCCEEDED and fresh(db, pay).failure_reason == ""


def test_sepa_debit_is_processing_until_the_bank_confirms(db: Session, api: LiveApi) -> None:
    inv, pay, url = start(db, api)
    assert choose(url, "sepa").status_code == 303
    # Then the invoice waits: processing, not paid
    wait_for(lambda: fresh(db, pay).status == PaymentStatus.PROCESSING)
    assert fresh(db, inv).status == InvoiceStatus.OPEN
    assert fresh(db, pay).method_label == "SEPA Direct Debit •••• 3000"
    # When the bank confirms (the simulator's settlement, days later at a real bank)
    intent = fresh(db, pay).provider_intent
    assert intent
    assert stripe_simulator.settle_sepa(intent)
    wait_for(lambda: fresh(db, inv).status == InvoiceStatus.PAID)
    assert fresh(db, pay).status == PaymentStatus.SUCCEEDED


def test_every_create_carries_an_idempotency_key(db: Session, api: LiveApi) -> None:
    provider = billing.stripe_provider(api.url)
    args: dict[str, Any] = {"amount_cents": 500, "currency": "EUR", "reference": "pay_999999",
                            "description": "Invoice X", "return_url": "http://localhost/x"}
    key = f"test-{secrets.token_hex(6)}"
    first = provider.create_checkout(**args, idempotency_key=key)
    again = provider.create_checkout(**args, idempotency_key=key)
    assert again.id == first.id  # a retried request is the same session, not a second one
    other = provider.create_checkout(**args, idempotency_key=f"{key}-2")
    assert other.id != first.id
    with pytest.raises(stripe.IdempotencyError):
        provider.create_checkout(**{**args, "amount_cents": 600}, idempotency_key=key)
    # And a wrong key is refused like Stripe does
    with pytest.raises(stripe.AuthenticationError):
        billing.StripeProvider(api_key="sk_test_wrong", api_base=provider.api_base).create_checkout(**args)


# -- signed events, delivered any way at all ------------------------------------------------------------


def stripe_payment(db: Session) -> tuple[Invoice, Payment, str]:
    _, customer = make_customer(db)
    inv = make_billed_invoice(db, customer)
    pay = Payment(customer_id=customer.id or 0, invoice_id=inv.id, amount_cents=inv.total_cents, currency="EUR",
                  status=PaymentStatus.PENDING, provider="stripe", provider_ref=stripe_simulator.new_id("cs"))
    db.add(pay)
    db.commit()
    return inv, pay, stripe_simulator.new_id("pi")


def event(kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    ev = stripe_simulator.event(kind, obj)
    if created is not None:
        ev["created"] = created
    return ev


def session_obj(pay: Payment, intent: str, *, status: str = "paid", amount: int | None = None) -> dict[str, Any]:
    return {"id": pay.provider_ref, "object": "checkout.session", "mode": "payment", "status": "complete",
            "payment_status": status, "amount_total": pay.amount_cents if amount is None else amount,
            "currency": "eur", "client_reference_id": f"pay_{pay.id}", "metadata": {"portal_ref": f"pay_{pay.id}"},
            "payment_intent": intent}


def intent_obj(pay: Payment, intent: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"id": intent, "object": "payment_intent", "amount": pay.amount_cents, "currency": "eur",
            "status": status, "metadata": {"portal_ref": f"pay_{pay.id}"}, "payment_method": None, **extra}


def post(api: LiveApi, ev: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None,
         header: str | None = None) -> httpx.Response:
    body = json.dumps(ev).encode()
    sig = header if header is not None else stripe_simulator.signature(body, timestamp=timestamp, secrets_=[secret])
    return httpx.post(f"{api.url}/api/webhooks/stripe", content=body, timeout=20,
                      headers={"Stripe-Signature": sig, "content-type": "application/json"})


def outcome(api: LiveApi, ev: dict[str, Any], **kw: Any) -> str:
    r = post(api, ev, **kw)
    assert r.status_code == 200, r.text
    return str(r.json()["outcome"])


def test_payment_events_in_any_order_and_twice_apply_once(db: Session, api: LiveApi) -> None:
    now = int(time.time())
    inv, pay, pi = stripe_payment(db)
    failed = event("payment_intent.payment_failed", intent_obj(pay, pi, "requires_payment_method", last_payment_error={
        "code": "card_declined", "message": "Your card was declined."}), created=now - 30)
    processing = event("payment_intent.processing", intent_obj(pay, pi, "processing"), created=now - 20)
    succeeded = event("payment_intent.succeeded", intent_obj(pay, pi, "succeeded"), created=now - 10)
    completed = event("checkout.session.completed", session_obj(pay, pi), created=now - 9)
    # The success arrives first, then what happened before it, then everything again
    assert outcome(api, succeeded) == "succeeded"
    assert [outcome(api, e) for e in (completed, processing, failed)] == ["duplicate"] * 3
    assert [outcome(api, e) for e in (succeeded, completed, processing, failed)] == ["duplicate"] * 4
    db.expire_all()
    assert fresh(db, pay).status == PaymentStatus.SUCCEEDED and fresh(db, pay).failure_reason == ""
    assert fresh(db, inv).status == InvoiceStatus.PAID and fresh(db, inv).amount_paid_cents == inv.total_cents
    assert len(db.exec(select(ProviderEvent)).all()) == 4
    assert len(db.exec(select(OutboundEvent).where(OutboundEvent.kind == "invoice.paid")).all()) == 1

    # A SEPA payment: "processing" arriving after "failed" (older) changes nothing; a newer one does
    inv2, pay2, pi2 = stripe_payment(db)
    late_processing = event("payment_intent.processing", intent_obj(pay2, pi2, "processing"), created=now - 50)
    assert outcome(api, event("payment_intent.payment_failed", intent_obj(pay2, pi2, "requires_payment_method"),
                              created=now - 40)) == "failed"
    assert outcome(api, late_processing) == "duplicate"
    assert fresh(db, pay2).status == PaymentStatus.FAILED
    assert outcome(api, event("checkout.session.completed", session_obj(pay2, pi2, status="unpaid"),
                              created=now - 5)) == "processing"
    assert fresh(db, pay2).status == PaymentStatus.PROCESSING and fresh(db, inv2).status == InvoiceStatus.OPEN
    assert outcome(api, event("checkout.session.async_payment_succeeded", session_obj(pay2, pi2))) == "succeeded"
    assert fresh(db, inv2).status == InvoiceStatus.PAID


def test_totals_that_disagree_with_the_portal_move_nothing(db: Session, api: LiveApi) -> None:
    inv, pay, pi = stripe_payment(db)
    short = session_obj(pay, pi, amount=pay.amount_cents - 1)
    assert outcome(api, event("checkout.session.completed", short)) == "mismatch"
    other_currency = {**intent_obj(pay, pi, "succeeded"), "currency": "usd"}
    assert outcome(api, event("payment_intent.succeeded", other_currency)) == "mismatch"
    # Another session's id with this payment's reference is not this payment
    forged = {**session_obj(pay, pi), "id": stripe_simulator.new_id("cs")}
    assert outcome(api, event("checkout.session.completed", forged)) == "ignored"
    assert fresh(db, pay).status == PaymentStatus.PENDING and fresh(db, inv).status == InvoiceStatus.OPEN
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "billing.payment_mismatch")).first()
    # Positive control: the right totals pay it
    assert outcome(api, event("checkout.session.completed", session_obj(pay, pi))) == "succeeded"


def test_signatures_bad_rotated_and_too_late(db: Session, api: LiveApi) -> None:
    inv, pay, pi = stripe_payment(db)
    ev = event("payment_intent.succeeded", intent_obj(pay, pi, "succeeded"))
    body = json.dumps(ev).encode()
    now = int(time.time())
    refused = [
        post(api, ev, secret="whsec_someone_else"),  # another endpoint's secret
        post(api, ev, header=""),  # unsigned
        post(api, ev, header=f"t={now},v0={'0' * 64}"),  # not the v1 scheme
        post(api, ev, timestamp=now - 301),  # outside the 300 s tolerance: a replay
        httpx.post(f"{api.url}/api/webhooks/stripe", content=body + b" ", timeout=20,  # body changed after signing
                   headers={"Stripe-Signature": stripe_simulator.signature(body, secrets_=[SECRET])}),
    ]
    assert [r.status_code for r in refused] == [400] * 5
    assert fresh(db, pay).status == PaymentStatus.PENDING
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "billing.webhook_refused")).all()) == 5
    # A delivery signed with the secret being rotated out, 200 s ago, is accepted (and applied once)
    assert outcome(api, ev, secret=OLD_SECRET, timestamp=now - 200) == "succeeded"
    assert outcome(api, ev) == "duplicate"
    assert fresh(db, inv).status == InvoiceStatus.PAID


def test_guessing_the_signing_secret_is_throttled_per_address(db: Session, api: LiveApi) -> None:
    _, pay, pi = stripe_payment(db)
    ev = event("payment_intent.succeeded", intent_obj(pay, pi, "succeeded"))
    # 30 guesses are answered 400, each audited; then the address waits, even with the right secret
    answers = [post(api, ev, secret=f"whsec_guess_{n}").status_code for n in range(30)]
    assert answers == [400] * 30
    assert post(api, ev).status_code == 429
    assert fresh(db, pay).status == PaymentStatus.PENDING
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "billing.webhook_refused")).all()) == 30
    # Positive control: once the block is lifted, Stripe's delivery is applied
    from portal.models import LoginThrottle

    for row in db.exec(select(LoginThrottle)).all():
        db.delete(row)
    db.commit()
    assert outcome(api, ev) == "succeeded"


@pytest.mark.parametrize("copies", [24])
def test_many_copies_of_one_success_at_once_apply_once(db: Session, api: LiveApi, copies: int) -> None:
    inv, pay, pi = stripe_payment(db)
    ev = event("checkout.session.completed", session_obj(pay, pi))
    barrier = threading.Barrier(copies)
    answers: list[str] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(outcome(api, ev))

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(answers) == ["duplicate"] * (copies - 1) + ["succeeded"]
    db.expire_all()
    assert fresh(db, inv).amount_paid_cents == inv.total_cents and fresh(db, inv).status == InvoiceStatus.PAID
    assert len(db.exec(select(ProviderEvent).where(ProviderEvent.event_id == ev["id"])).all()) == 1
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "billing.payment_succeeded")).all()) == 1


# -- refunds and disputes ------------------------------------------------------------------------------


def paid_through_simulator(db: Session, api: LiveApi) -> tuple[Invoice, Payment]:
    inv, pay, url = start(db, api)
    choose(url, "success")
    wait_for(lambda: fresh(db, inv).status == InvoiceStatus.PAID and fresh(db, pay).provider_intent)
    return inv, fresh(db, pay)


def refund(db: Session, api: LiveApi, staff: Any, pay: Payment, cents: int) -> int:
    refund_id = stripe_payments.prepare_refund(db, principal=principal_for(staff), payment_id=pay.id or 0,
                                               amount_cents=cents, reason="Goodwill")
    db.commit()

    def scope() -> Any:
        from portal.db import session_scope

        return session_scope()

    assert stripe_payments.send_refund(scope, refund_id=refund_id, provider=billing.stripe_provider(api.url)) \
        == RefundStatus.PENDING
    return refund_id


def test_partial_then_full_refund_reaches_the_card_and_the_customer_sees_it(db: Session, api: LiveApi) -> None:
    inv, pay = paid_through_simulator(db, api)
    admin = make_staff(db, role=Role.ADMIN)
    # When the business refunds part of it
    first = refund(db, api, admin, pay, 3000)
    row = db.get(Refund, first)
    assert row is not None and row.status == RefundStatus.PENDING and row.provider_ref
    # Then it is pending until Stripe says it succeeded
    wait_for(lambda: fresh(db, row).status == RefundStatus.SUCCEEDED)
    wait_for(lambda: fresh(db, pay).refunded_cents == 3000)
    assert fresh(db, pay).status == PaymentStatus.SUCCEEDED
    assert db.exec(select(Notification).where(Notification.title == "Refund of €30.00 sent")).first()
    # More than is left is refused, naming the field; the rest refunds it in full
    with pytest.raises(Invalid) as too_much:
        stripe_payments.prepare_refund(db, principal=principal_for(admin), payment_id=pay.id or 0,
                                       amount_cents=10496, reason="")
    assert too_much.value.field == "amount" and "At most €104.95" in too_much.value.detail
    db.rollback()
    second = refund(db, api, admin, pay, 10495)
    wait_for(lambda: fresh(db, db.get(Refund, second)).status == RefundStatus.SUCCEEDED)
    wait_for(lambda: fresh(db, pay).status == PaymentStatus.REFUNDED)
    assert fresh(db, pay).refunded_cents == pay.amount_cents
    # And a customer cannot ask for one
    customer = db.exec(select(Invoice).where(Invoice.id == inv.id)).one()
    from portal.models import User

    user = db.exec(select(User).where(User.customer_id == customer.customer_id)).first()
    with pytest.raises(Forbidden):
        stripe_payments.prepare_refund(db, principal=principal_for(user), payment_id=pay.id or 0, amount_cents=1,
                                       reason="")


def test_refund_events_out_of_order_and_a_dispute_tells_the_business(db: Session, api: LiveApi) -> None:
    inv, pay = paid_through_simulator(db, api)
    admin = make_staff(db, role=Role.ADMIN)
    refund_id = stripe_payments.prepare_refund(db, principal=principal_for(admin), payment_id=pay.id or 0,
                                               amount_cents=1000, reason="")
    db.commit()
    re_obj = {"id": stripe_simulator.new_id("re"), "object": "refund", "amount": 1000, "currency": "eur",
              "status": "succeeded", "payment_intent": pay.provider_intent,
              "metadata": {"portal_ref": f"refund_{refund_id}"}}
    charge = {"id": stripe_simulator.new_id("ch"), "object": "charge", "amount": pay.amount_cents,
              "amount_refunded": 1000, "refunded": False, "currency": "eur", "payment_intent": pay.provider_intent,
              "refunds": {"object": "list", "data": [re_obj], "has_more": False}}
    # charge.refunded before refund.updated, each twice
    assert outcome(api, event("charge.refunded", charge)) == "refunded"
    assert outcome(api, event("refund.updated", re_obj)) == "duplicate"
    assert outcome(api, event("charge.refunded", charge)) == "duplicate"
    row = fresh(db, db.get(Refund, refund_id))
    assert row.status == RefundStatus.SUCCEEDED and row.provider_ref == re_obj["id"]
    assert fresh(db, pay).refunded_cents == 1000
    assert len(db.exec(select(Notification).where(Notification.title == "Refund of €10.00 sent")).all()) == 1
    # A dispute: the business is told (notification, audit, outbound event), once
    dispute = {"id": stripe_simulator.new_id("dp"), "object": "dispute", "amount": pay.amount_cents,
               "currency": "eur", "charge": charge["id"], "payment_intent": pay.provider_intent,
               "reason": "fraudulent", "status": "needs_response"}
    ev = event("charge.dispute.created", dispute)
    assert outcome(api, ev) == "disputed" and outcome(api, ev) == "duplicate"
    notes = db.exec(select(Notification).where(Notification.user_id == admin.id,
                                               col(Notification.title).startswith("Payment disputed"))).all()
    assert len(notes) == 1 and inv.number in notes[0].title
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "billing.dispute_opened")).one()
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "payment.disputed")).one()


# -- saved cards, charged off-session ------------------------------------------------------------------


def save_card(db: Session, api: LiveApi, user: Any, button: str) -> PaymentMethod:
    url = billing.start_card_setup(db, principal=principal_for(user), provider_base_url=api.url,
                                   return_url=f"{api.url}/billing")
    db.commit()
    assert url.startswith(f"{api.url}/_simulator/stripe/checkout/cs_test_")
    before = {m.id for m in db.exec(select(PaymentMethod).where(PaymentMethod.customer_id == user.customer_id))}
    with httpx.Client(timeout=20) as http:
        assert http.post(url, data={"outcome": button}).status_code == 303
    db.expire_all()
    return wait_for(lambda: next((m for m in db.exec(select(PaymentMethod).where(
        PaymentMethod.customer_id == user.customer_id)) if m.id not in before), None))


def test_a_card_saved_at_stripe_pays_an_invoice_off_session_or_asks_for_3ds(db: Session, api: LiveApi) -> None:
    user, customer = make_customer(db)
    # When she saves a card on Stripe's page
    card = save_card(db, api, user, "save")
    # Then only Stripe's ids and what identifies the card are kept, on a Stripe customer made once
    assert card.provider == "stripe" and card.provider_token.startswith("pm_test_")
    assert (card.brand, card.last4, card.exp_month) == ("visa", "4242", 12) and card.is_default
    stripe_customer = fresh(db, customer).stripe_customer_id
    assert stripe_customer and stripe_customer.startswith("cus_test_")
    # And the same setup delivered again (or many times at once) saves nothing more
    ev = db.exec(select(ProviderEvent).where(ProviderEvent.outcome == "saved")).one()
    assert ev.type == "checkout.session.completed"
    session_obj_ = stripe_simulator.load(db.exec(select(AuditEvent).where(
        AuditEvent.action == "billing.card_setup_started")).one().data["setup_session"])
    assert session_obj_ is not None
    again = [outcome(api, event("checkout.session.completed", session_obj_)) for _ in range(3)]
    assert again == ["duplicate"] * 3
    assert len(db.exec(select(PaymentMethod).where(PaymentMethod.customer_id == customer.id)).all()) == 1

    # When she pays an invoice with it, nobody needs to be on Stripe's page
    inv = make_billed_invoice(db, customer)
    started = billing.pay_with_saved_card(db, principal=principal_for(user), invoice_id=inv.id or 0,
                                          card_id=card.id or 0, provider_base_url=api.url,
                                          return_url=f"{api.url}/billing/invoices/{inv.id}")
    db.commit()
    assert started is None
    wait_for(lambda: fresh(db, inv).status == InvoiceStatus.PAID)
    paid = db.exec(select(Payment).where(Payment.invoice_id == inv.id)).one()
    assert paid.method_label == "Visa •••• 4242" and paid.provider_intent == paid.provider_ref

    # A card whose bank wants 3-D Secure: the payment goes to Stripe's page instead, where she confirms
    card3ds = save_card(db, api, user, "save-3ds")
    assert fresh(db, customer).stripe_customer_id == stripe_customer  # the same Stripe customer
    inv2 = make_billed_invoice(db, customer)
    started = billing.pay_with_saved_card(db, principal=principal_for(user), invoice_id=inv2.id or 0,
                                          card_id=card3ds.id or 0, provider_base_url=api.url,
                                          return_url=f"{api.url}/billing/invoices/{inv2.id}")
    db.commit()
    assert started is not None and "/_simulator/stripe/checkout/" in started.url
    wait_for(lambda: db.expire_all() or any(p.status == PaymentStatus.FAILED and "authentication" in p.failure_reason
                                            for p in db.exec(select(Payment).where(Payment.invoice_id == inv2.id))))
    assert fresh(db, inv2).status == InvoiceStatus.OPEN
    choose(started.url, "3ds")
    httpx.post(f"{started.url}/3ds", data={"result": "complete"}, timeout=20)
    wait_for(lambda: fresh(db, inv2).status == InvoiceStatus.PAID)
    # Another customer cannot charge her card to his invoice (nor pay hers)
    other, other_customer = make_customer(db)
    his = make_billed_invoice(db, other_customer)
    for invoice_id in (his.id or 0, inv2.id or 0):
        with pytest.raises(NotFound):
            billing.pay_with_saved_card(db, principal=principal_for(other), invoice_id=invoice_id,
                                        card_id=card.id or 0, provider_base_url=api.url, return_url=api.url)
        db.rollback()
    assert fresh(db, his).status == InvoiceStatus.OPEN


def test_a_refund_stripe_did_not_answer_stays_pending_and_is_sent_again_once(db: Session, api: LiveApi) -> None:
    _, pay = paid_through_simulator(db, api)
    admin = make_staff(db, role=Role.ADMIN)
    refund_id = stripe_payments.prepare_refund(db, principal=principal_for(admin), payment_id=pay.id or 0,
                                               amount_cents=500, reason="")
    db.commit()

    def scope() -> Any:
        from portal.db import session_scope

        return session_scope()

    # When Stripe cannot be reached, the refund is kept, pending and unsent
    unreachable = billing.StripeProvider(api_key="sk_test_simulator_development", api_base="http://127.0.0.1:9",
                                         timeout=2)
    assert stripe_payments.send_refund(scope, refund_id=refund_id, provider=unreachable) == stripe_payments.UNSENT
    desk = stripe_payments.refund_desk(db, principal=principal_for(admin))
    assert [r.unsent for r in desk.refunds if r.id == refund_id] == [True]
    # When it is sent again (twice), Stripe makes one refund, which succeeds
    real = billing.stripe_provider(api.url)
    assert stripe_payments.send_refund(scope, refund_id=refund_id, provider=real) == RefundStatus.PENDING
    assert stripe_payments.send_refund(scope, refund_id=refund_id, provider=real) == RefundStatus.PENDING
    wait_for(lambda: fresh(db, db.get(Refund, refund_id)).status == RefundStatus.SUCCEEDED)
    wait_for(lambda: fresh(db, pay).refunded_cents == 500)
    charge = stripe_simulator.load(stripe_simulator.load(pay.provider_intent or "")["latest_charge"])
    assert charge is not None and charge["amount_refunded"] == 500
