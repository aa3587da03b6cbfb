"""Documents as customers download them, by clicking in Chromium: a statement and an invoice print
the customer's name exactly in Polish, Greek, Czech and Chinese, and a return label started on the
order page carries a barcode and a QR code that a scanner reads back as the return number."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.models import Customer, Order, OrderStatus, Return, User
from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_billing_flow import open_due_invoice
from tests.browser.test_login_flow import sign_in
from tests.pdf_tools import pdf_text, scan_barcodes

pytestmark = pytest.mark.browser


def _rename(email: str, name: str) -> None:
    """The customer behind `email` is called `name` (as after a rename on the Profile page)."""
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        customer = s.get(Customer, user.customer_id)
        assert customer is not None
        user.full_name = customer.name = name
        s.add(user)
        s.add(customer)


def _download(page: Any, test_id: str) -> tuple[str, bytes]:
    link = page.get_by_test_id(test_id).first
    link.evaluate("e => e.scrollIntoView({block: 'center'})")
    with page.expect_download(timeout=60_000) as info:
        link.click()
    return info.value.suggested_filename, Path(info.value.path()).read_bytes()


@pytest.mark.parametrize("name", ["Łukasz Żółć", "Γιώργος Παπαδόπουλος", "Jiří Dvořák", "王小明"])
def test_statement_and_invoice_print_the_name_exactly(page: Any, demo: Any, name: str) -> None:
    # Given Ben, whose name on his account is written in his own script, on one of his due invoices
    _rename("ben@example.com", name)
    number = open_due_invoice(page, "ben@example.com")
    # When he downloads its PDF, it is his invoice with his name as written
    filename, data = _download(page, "invoice-pdf")
    text = pdf_text(data)
    assert filename == f"{number}.pdf" and number in text
    assert name in text and "?" not in text
    # And so is his statement from the Billing page
    page.get_by_role("link", name="Back to billing").click()
    filename, data = _download(page, "statement-link")
    text = pdf_text(data)
    assert filename.startswith("statement-") and "Account statement" in text
    assert name in text and "?" not in text
    # A second download is the same file, byte for byte
    assert _download(page, "statement-link")[1] == data


def test_start_a_return_download_its_label_and_scan_it(page: Any, demo: Any, db: Session) -> None:
    # Given Alice, whose delivered order went to her Polish address
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    user = db.exec(select(User).where(User.email == "alice@example.com")).one()
    with session_scope() as s:
        order = s.exec(select(Order).where(Order.customer_id == user.customer_id,
                                           Order.status == OrderStatus.DELIVERED).order_by(Order.id.desc())  # type: ignore[union-attr]
                       ).first()
        assert order is not None
        order.shipping_address = {**order.shipping_address, "name": "Łukasz Żółć", "line1": "ul. Świętokrzyska 12",
                                  "postal_code": "00-052", "city": "Warszawa", "country": "PL"}
        s.add(order)
        order_id = order.id
    # When she starts a return on the order page
    page.goto(f"/orders/{order_id}")
    page.get_by_test_id("action-return").click()
    page.get_by_test_id("return-qty").first.fill("1")
    page.get_by_test_id("return-reason").select_option("too_small")
    page.get_by_test_id("return-quote").wait_for()
    page.get_by_test_id("confirm-return").click()
    page.get_by_test_id("order-notice").get_by_text("is started").wait_for()
    # And downloads its label
    filename, data = _download(page, "return-label")
    db.expire_all()
    ret = db.exec(select(Return).where(Return.order_id == order_id)).one()
    assert filename == f"return-label-{ret.number}.pdf"
    # Then a scanner reads the return number from its Code 128 barcode and its QR code
    assert scan_barcodes(data) == {"Code 128": ret.number, "QR Code": ret.number}
    # And the sender prints as written
    text = pdf_text(data)
    assert f"Return label {ret.number}" in text and "Łukasz Żółć" in text and "ul. Świętokrzyska 12" in text


def test_money_on_the_page_and_in_the_pdf_follows_the_profiles_locale(page: Any, demo: Any) -> None:
    # Given Ben, whose profile says German
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == "ben@example.com")).one()
        user.locale = "de"
        s.add(user)
    # When he opens his overdue invoice (€70.95), its balance is written the German way (and his menu
    # is in German now: he goes to Billing by its address)
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/billing")
    row = page.get_by_test_id("due-row").first
    number = row.get_by_role("link").inner_text()
    row.get_by_role("link").click()
    page.get_by_test_id("pay-now").wait_for()
    page.get_by_test_id("invoice-balance").get_by_text(re.compile(r"^70,95\s€$")).wait_for()
    # And so is its PDF
    _, data = _download(page, "invoice-pdf")
    text = pdf_text(data)
    assert number in text and re.search(r"70,95\s€", text) and "€70.95" not in text
