"""Billing through the domain: balance, lists, payments confirmed only by the provider, isolation."""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import billing, billing_files
from portal.domain.errors import DomainError, NotFound
from portal.models import (
    AuditEvent,
    InvoiceKind,
    InvoiceStatus,
    Notification,
    OutboundEvent,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from tests.factories import make_customer, principal_for
from tests.factories_billing import make_billed_invoice, make_card, make_credit, make_payment, provider_event


def pdftotext(data: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout


def test_balance_due_and_overdue_and_store_credit(db: Session) -> None:
    # Given one overdue and one upcoming invoice, a paid one and store credit
    ua, ca = make_customer(db)
    late = make_billed_invoice(db, ca, lines=(("Repair", 1, 6500),), days_ago=24, due_in_days=14)
    make_billed_invoice(db, ca, lines=(("Boots", 1, 10000),))
    make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    make_credit(db, ca, amount_cents=2500)
    p = principal_for(ua)
    # When the balance and what is due are read
    bal = billing.balance(db, principal=p)
    due = billing.due_invoices(db, principal=p)
    # Then
    assert (bal.due_cents, bal.overdue_cents, bal.store_credit_cents) == (16500, 6500, 2500)
    assert due[0].number == late.number and due[0].overdue and not due[1].overdue
    assert billing.credits(db, principal=p)[0].amount_cents == 2500


def test_list_search_filter_and_pagination(db: Session) -> None:
    ua, ca = make_customer(db)
    for i in range(12):
        make_billed_invoice(db, ca, lines=((f"Tent model {i}", 1, 1000 + i),), days_ago=i + 1)
    make_billed_invoice(db, ca, lines=(("Sleeping bag", 1, 5000),), status=InvoiceStatus.PAID, days_ago=40)
    p = principal_for(ua)
    first = billing.list_invoices(db, principal=p, per_page=5)
    assert (first.total, first.pages, len(first.items)) == (13, 3, 5)
    assert billing.list_invoices(db, principal=p, page=3, per_page=5).items[-1].status == "paid"
    assert billing.list_invoices(db, principal=p, query="sleeping").total == 1
    assert billing.list_invoices(db, principal=p, status="paid").total == 1
    recent = billing.list_invoices(db, principal=p, date_from=date.today() - timedelta(days=3))
    assert recent.total == 3
    with pytest.raises(DomainError):
        billing.list_invoices(db, principal=p, status="bogus")
    with pytest.raises(DomainError):
        billing.list_invoices(db, principal=p, per_page=10_000)


def test_customer_b_gets_nothing_of_customer_a(db: Session) -> None:
    # Given Alice's invoice, payment and card
    _, ca = make_customer(db)
    ub, _ = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = make_payment(db, ca, inv)
    card = make_card(db, ca)
    pb = principal_for(ub)
    # When Bob asks for them by id, he is told they do not exist
    for call in (lambda: billing.get_invoice(db, principal=pb, invoice_id=inv.id or 0),
                 lambda: billing_files.invoice_pdf(db, principal=pb, invoice_id=inv.id or 0),
                 lambda: billing_files.receipt_pdf(db, principal=pb, payment_id=pay.id or 0),
                 lambda: billing.set_default_card(db, principal=pb, card_id=card.id or 0),
                 lambda: billing.remove_card(db, principal=pb, card_id=card.id or 0),
                 lambda: billing.start_payment(db, principal=pb, invoice_id=inv.id or 0,
                                               provider_base_url="http://x", return_url="http://x")):
        with pytest.raises(NotFound):
            call()
    db.rollback()
    # And his lists do not contain them
    assert billing.list_invoices(db, principal=pb).total == 0
    assert billing.list_payments(db, principal=pb).total == 0
    assert billing.cards(db, principal=pb) == []
    assert db.get(PaymentMethod, card.id) is not None


def test_invoice_pdf_is_identical_every_time_and_readable(db: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ua, ca = make_customer(db, name="Alice Walker")
    inv = make_billed_invoice(db, ca, lines=(("Trail jacket – M", 2, 12900),))
    p = principal_for(ua)
    first = billing_files.invoice_pdf(db, principal=p, invoice_id=inv.id or 0)
    second = billing_files.invoice_pdf(db, principal=p, invoice_id=inv.id or 0)
    assert first.data == second.data and first.data.startswith(b"%PDF-")
    text = pdftotext(first.data, tmp_path)
    assert "Fernhill Outfitters" in text and inv.number in text and "€258.00" in text
    assert "Alice Walker" in text and "Trail jacket" in text


@pytest.mark.parametrize("name", ["Łukasz Żółć", "Γιώργος Παπαδόπουλος", "Jiří Dvořák", "王小明"])
def test_invoice_receipt_and_statement_print_the_name_exactly(db: Session, name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ua, ca = make_customer(db, name=name, company=f"{name} s.r.o." if "ř" in name else "")
    inv = make_billed_invoice(db, ca, lines=(("Trail jacket – M", 1, 12900),), status=InvoiceStatus.PAID,
                              days_ago=3)
    pay = make_payment(db, ca, inv, amount_cents=12900, days_ago=2)
    p = principal_for(ua)
    today = utcnow().date()
    for out in (billing_files.invoice_pdf(db, principal=p, invoice_id=inv.id or 0),
                billing_files.receipt_pdf(db, principal=p, payment_id=pay.id or 0),
                billing_files.statement_pdf(db, principal=p, date_from=today - timedelta(days=30), date_to=today)):
        text = pdftotext(out.data, tmp_path)
        assert name in text and "?" not in text, (out.filename, text)
        assert "€129.00" in text


def test_statement_and_csv(db: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca, lines=(("Stove", 1, 4500),), status=InvoiceStatus.PAID, days_ago=5)
    make_payment(db, ca, inv, amount_cents=4500, days_ago=4)
    make_payment(db, ca, None, amount_cents=999, status=PaymentStatus.FAILED, days_ago=2)
    p = principal_for(ua)
    today = utcnow().date()
    out = billing_files.statement_pdf(db, principal=p, date_from=today - timedelta(days=30), date_to=today)
    text = pdftotext(out.data, tmp_path)
    assert "Account statement" in text and inv.number in text and "€45.00" in text
    csv_text = "".join(billing_files.payment_history_csv(db, principal=p))
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("date,payment_id,invoice,amount")
    assert len(lines) == 3 and "45.00" in lines[1] and "failed" in lines[2]
    with pytest.raises(DomainError):
        billing_files.statement_pdf(db, principal=p, date_from=today, date_to=today - timedelta(days=1))


def _start(db: Session, principal, invoice_id: int) -> Payment:  # type: ignore[no-untyped-def]
    started = billing.start_payment(db, principal=principal, invoice_id=invoice_id,
                                    provider_base_url="http://127.0.0.1:1", return_url="http://127.0.0.1:1/b")
    db.commit()
    assert "/_simulator/pay/" in started.url
    pay = db.get(Payment, started.payment_id)
    assert pay is not None and pay.status == PaymentStatus.PENDING
    return pay


def test_invoice_is_paid_only_by_the_confirmation_and_exactly_once(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = _start(db, principal_for(ua), inv.id or 0)
    db.refresh(inv)
    assert inv.status == InvoiceStatus.OPEN  # starting a checkout pays nothing
    event = provider_event(pay)
    # When the confirmation arrives three times
    outcomes = []
    for _ in range(3):
        outcomes.append(billing.apply_payment_event(db, event=event))
        db.commit()
    # Then the invoice is paid once
    db.refresh(inv)
    assert outcomes == ["succeeded", "duplicate", "duplicate"]
    assert inv.status == InvoiceStatus.PAID and inv.amount_paid_cents == inv.total_cents
    assert len(db.exec(select(OutboundEvent).where(OutboundEvent.kind == "invoice.paid")).all()) == 1
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "billing.payment_succeeded")).all()) == 1
    # And a later failure event for the same session changes nothing
    assert billing.apply_payment_event(db, event=provider_event(pay, succeeded=False)) == "duplicate"


def test_declined_payment_leaves_invoice_due_and_says_why(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    p = principal_for(ua)
    pay = _start(db, p, inv.id or 0)
    assert billing.apply_payment_event(db, event=provider_event(pay, succeeded=False)) == "failed"
    db.commit()
    detail = billing.get_invoice(db, principal=p, invoice_id=inv.id or 0)
    assert detail.invoice.status == InvoiceStatus.OPEN and detail.payable
    assert detail.last_failure == "Your card was declined."
    note = db.exec(select(Notification).where(Notification.user_id == ua.id)).one()
    assert "failed" in note.title and "declined" in note.body


def test_events_with_wrong_amount_or_unknown_session_change_nothing(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = _start(db, principal_for(ua), inv.id or 0)
    assert billing.apply_payment_event(db, event=provider_event(pay, amount_cents=1)) == "ignored"
    unknown = dataclasses.replace(provider_event(pay), session_id="cs_unknown")
    assert billing.apply_payment_event(db, event=unknown) == "ignored"
    db.rollback()
    db.refresh(inv)
    assert inv.status == InvoiceStatus.OPEN


def test_paid_invoices_and_credit_notes_cannot_be_paid(db: Session) -> None:
    ua, ca = make_customer(db)
    paid = make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    note = make_billed_invoice(db, ca, kind=InvoiceKind.CREDIT_NOTE)
    for inv in (paid, note):
        with pytest.raises(DomainError) as err:
            billing.start_payment(db, principal=principal_for(ua), invoice_id=inv.id or 0,
                                  provider_base_url="http://x", return_url="http://x")
        assert err.value.code == "not_allowed"


def test_cards_default_and_remove(db: Session) -> None:
    ua, ca = make_customer(db)
    a = make_card(db, ca, last4="4242", is_default=True)
    b = make_card(db, ca, last4="4444")
    p = principal_for(ua)
    billing.set_default_card(db, principal=p, card_id=b.id or 0)
    db.commit()
    assert [c.last4 for c in billing.cards(db, principal=p) if c.is_default] == ["4444"]
    billing.remove_card(db, principal=p, card_id=b.id or 0)
    db.commit()
    remaining = billing.cards(db, principal=p)
    assert [(c.id, c.is_default) for c in remaining] == [(a.id, True)]


def test_charts_data(db: Session) -> None:
    ua, ca = make_customer(db)
    make_billed_invoice(db, ca, days_ago=24, due_in_days=14)
    inv = make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    make_payment(db, ca, inv, amount_cents=13495, days_ago=0)
    p = principal_for(ua)
    months = billing.spending_by_month(db, principal=p)
    assert len(months) == 12 and months[-1][1] == 13495
    assert dict(billing.invoices_by_status(db, principal=p)) == {"paid": 1, "open": 0, "overdue": 1, "void": 0}


def test_a_card_saved_through_the_provider_keeps_only_token_brand_last4_and_expiry(db: Session) -> None:
    from portal.integrations import payments

    ua, ca = make_customer(db)
    p = principal_for(ua)
    url = billing.start_card_setup(db, principal=p, provider_base_url="http://portal.test",
                                   return_url="http://portal.test/billing")
    assert "/_simulator/pay/" in url
    event = payments.PaymentEvent(id="evt_1", type="setup.succeeded", created=0, session_id="seti_1",
                                  reference=f"cus_{ca.id}", amount_cents=0, currency="EUR",
                                  card=payments.CardDetails(brand="visa", last4="4242", exp_month=12, exp_year=2031),
                                  payment_method="pm_sim_abc")
    assert billing.apply_payment_event(db, event=event) == "saved"
    db.commit()
    assert billing.apply_payment_event(db, event=event) == "duplicate"  # the same delivery again
    saved = db.exec(select(PaymentMethod).where(PaymentMethod.customer_id == ca.id)).one()
    assert (saved.provider_token, saved.brand, saved.last4, saved.exp_month, saved.exp_year, saved.is_default) == (
        "pm_sim_abc", "visa", "4242", 12, 2031, True)
    forged = dataclasses.replace(event, reference="cus_nonsense", payment_method="pm_sim_x")
    assert billing.apply_payment_event(db, event=forged) == "ignored"


def test_payments_filter_by_status_and_date(db: Session) -> None:
    ua, ca = make_customer(db)
    make_payment(db, ca, amount_cents=100, days_ago=30)
    make_payment(db, ca, amount_cents=200, days_ago=2)
    make_payment(db, ca, amount_cents=300, status=PaymentStatus.FAILED, days_ago=1)
    p = principal_for(ua)
    assert billing.list_payments(db, principal=p).total == 3
    assert [x.amount_cents for x in billing.list_payments(db, principal=p, status="failed").items] == [300]
    recent = billing.list_payments(db, principal=p, date_from=utcnow().date() - timedelta(days=5))
    assert sorted(x.amount_cents for x in recent.items) == [200, 300]
    with pytest.raises(DomainError):
        billing.list_payments(db, principal=p, status="stolen")


def test_a_second_paid_checkout_for_the_same_invoice_becomes_store_credit(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    p = principal_for(ua)
    first, second = _start(db, p, inv.id or 0), _start(db, p, inv.id or 0)
    assert billing.apply_payment_event(db, event=provider_event(first)) == "succeeded"
    assert billing.apply_payment_event(db, event=provider_event(second)) == "succeeded"
    db.commit()
    db.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.amount_paid_cents == inv.total_cents
    assert billing.balance(db, principal=p).store_credit_cents == second.amount_cents
