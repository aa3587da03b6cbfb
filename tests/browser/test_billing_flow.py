"""A demo customer downloads an invoice, pays it on the card processor's hosted page and sees it
marked paid live; a declined card says why; a business customer signs her contract and uploads
the document the business asked for."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.integrations import payments_simulator
from portal.models import AuditEvent, Document, DocumentStatus, Invoice, InvoiceStatus, Notification, OutboundEvent
from portal.seed.demo import DEMO_PASSWORD
from portal.state.documents import UPLOAD_ID
from tests.browser.test_login_flow import sign_in
from tests.pdf_tools import pdf_text
from tests.support.uploads import send_files

pytestmark = pytest.mark.browser


def open_due_invoice(page: Any, email: str) -> str:
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_role("link", name="Billing").first.click()
    page.wait_for_url(re.compile(r"/billing/?$"))
    row = page.get_by_test_id("due-row").first
    number = row.get_by_role("link").inner_text()
    row.get_by_role("link").click()
    page.get_by_test_id("pay-now").wait_for()
    return number


def pay_with(page: Any, card: str) -> None:
    page.get_by_test_id("pay-now").click()
    page.wait_for_url(re.compile(r"/_simulator/pay/"))
    page.fill("#card", card)
    page.fill("#exp", "12/34")
    page.fill("#cvc", "123")
    page.click("#pay")
    page.wait_for_url(re.compile(r"/billing/invoices/\d+"))


def test_download_then_pay_and_see_it_paid_live(page: Any, demo: Any, db: Session, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The processor confirms a moment after the customer is back, as real ones do: here only once
    # the test has seen the page waiting (a fixed delay raced a slow page load on a busy machine).
    confirm = threading.Event()
    deliver = payments_simulator.deliver_webhook

    async def held_back(url: str, event: Any, **kw: Any) -> bool:
        deadline = time.monotonic() + 60
        while not confirm.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await deliver(url, event, delay=0)

    monkeypatch.setattr(payments_simulator, "deliver_webhook", held_back)
    # Given Ben, who has an overdue invoice, on its page
    number = open_due_invoice(page, "ben@example.com")
    assert page.get_by_test_id("invoice-status").inner_text() == "Overdue"

    # When he downloads the PDF
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("invoice-pdf").click()
    pdf = tmp_path / "invoice.pdf"
    info.value.save_as(pdf)
    assert info.value.suggested_filename == f"{number}.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    # Then it is his invoice, with the business's name and the total
    assert "Fernhill Outfitters" in text and number in text and "€70.95" in text

    # When he pays with the success test card
    pay_with(page, "4242 4242 4242 4242")
    # Then the page waits for the processor's confirmation, and turns paid by itself
    page.get_by_test_id("payment-pending").wait_for()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    confirm.set()
    page.get_by_test_id("invoice-status").get_by_text("Paid").wait_for(timeout=20_000)
    assert navigations == []
    assert page.get_by_test_id("pay-now").count() == 0
    inv = db.exec(select(Invoice).where(Invoice.number == number)).one()
    assert inv.status == InvoiceStatus.PAID
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "invoice.paid")).one()


def test_a_declined_card_leaves_the_invoice_due_and_says_why(page: Any, demo: Any, db: Session) -> None:
    number = open_due_invoice(page, "ben@example.com")
    # Cancelling on the processor's page changes nothing
    page.get_by_test_id("pay-now").click()
    page.wait_for_url(re.compile(r"/_simulator/pay/"))
    page.click("#cancel")
    page.get_by_test_id("payment-cancelled").wait_for()
    assert page.get_by_test_id("payment-pending").count() == 0
    # A declined card
    pay_with(page, "4000 0000 0000 0002")
    failure = page.get_by_test_id("payment-failure")
    failure.wait_for(timeout=20_000)
    assert "Your card was declined." in failure.inner_text()
    assert page.get_by_test_id("invoice-status").inner_text() == "Overdue"
    assert page.get_by_test_id("pay-now").is_visible()
    inv = db.exec(select(Invoice).where(Invoice.number == number)).one()
    assert inv.status == InvoiceStatus.OPEN
    assert db.exec(select(Notification).where(Notification.title == f"Payment for {number} failed")).first()

    # When he searches his invoices for that number, only it is listed
    page.get_by_role("link", name="Back to billing").click()
    page.get_by_test_id("invoice-search").fill(number)
    page.get_by_test_id("apply-filters").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=invoice-row]').length === 1")
    assert number in page.get_by_test_id("invoice-row").inner_text()
    # And filtering by status "Paid" lists only paid invoices
    page.get_by_test_id("invoice-search").fill("")
    page.get_by_role("combobox", name="Status", exact=True).click()
    page.get_by_role("option", name="Paid").click()
    page.get_by_test_id("apply-filters").click()
    page.wait_for_function("[...document.querySelectorAll('[data-testid=invoice-row]')].length > 0 && "
                           "[...document.querySelectorAll('[data-testid=invoice-row] [data-testid=status-badge]')]"
                           ".every(b => b.innerText === 'Paid')")

    # When he downloads a statement for this year, it is a PDF of his account
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("statement-link").click()
    assert info.value.suggested_filename.startswith("statement-")
    statement = Path(info.value.path()).read_bytes()
    assert statement.startswith(b"%PDF-") and "Account statement" in pdf_text(statement)

    # When he saves a card on the processor's page, it appears among his cards (as brand and last four)
    page.get_by_test_id("add-card").click()
    page.wait_for_url(re.compile(r"/_simulator/pay/"))
    page.fill("#card", "5555 5555 5555 4444")
    page.fill("#exp", "10/33")
    page.fill("#cvc", "321")
    page.click("#pay")
    page.wait_for_url(re.compile(r"/billing/?\?checkout=done$"))
    page.get_by_test_id("card-row").get_by_text("Mastercard •••• 4444").wait_for(timeout=20_000)
    assert "10/33" in page.get_by_test_id("card-row").inner_text()


def test_sign_the_contract_and_upload_the_requested_document(page: Any, demo: Any, db: Session,
                                                             tmp_path: Path) -> None:
    # Given Chloé on her documents
    sign_in(page, "chloe@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/documents")
    page.get_by_test_id("doc-sign").wait_for()

    # When she tries to sign without ticking the box, she is told, and keeps her name
    page.get_by_test_id("doc-sign").click()
    page.fill("#sign-name", "Chloé Dubois")
    page.get_by_test_id("sign-submit").click()
    page.get_by_text("Tick the box").wait_for()
    assert page.input_value("#sign-name") == "Chloé Dubois"
    # When she ticks it and signs
    page.click("#sign-accept")
    page.get_by_test_id("sign-submit").click()
    page.get_by_text("you signed").wait_for()
    assert page.get_by_test_id("doc-sign").count() == 0
    contract = db.exec(select(Document).where(Document.kind == "contract")).one()
    assert contract.status == DocumentStatus.SIGNED and contract.signed_sha256 == contract.sha256
    assert contract.signed_ip != "" and contract.signed_at is not None
    assert db.exec(select(OutboundEvent).where(OutboundEvent.kind == "document.signed")).one()

    # When she uploads a file whose content is not what its name says, it is refused
    fake = tmp_path / "certificate.pdf"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    page.get_by_test_id("doc-upload").click()
    page.locator(f"#{UPLOAD_ID} input[type=file]").set_input_files(str(fake))
    page.get_by_test_id("upload-submit").click()
    page.get_by_text("does not match its name").wait_for()
    # And a real PDF is accepted
    real = tmp_path / "exemption.pdf"
    real.write_bytes(b"%PDF-1.4\n% a scanned certificate\n%%EOF\n")

    def send() -> None:
        page.locator(f"#{UPLOAD_ID} input[type=file]").set_input_files(str(real))
        page.get_by_test_id("upload-submit").click()

    send_files(page, send, page.get_by_text("we received"))
    uploaded = db.exec(select(Document).where(Document.title == "Tax exemption certificate")).one()
    db.refresh(uploaded)
    assert uploaded.status == DocumentStatus.AVAILABLE and uploaded.filename == "exemption.pdf"
    assert uploaded.storage_key and "exemption" not in uploaded.storage_key
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "document.uploaded")).one()
