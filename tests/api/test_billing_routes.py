"""Download routes and the payment webhook, over HTTP."""

from __future__ import annotations

import csv
import io
import time

from sqlmodel import Session, select
from starlette.testclient import TestClient

from portal.api.app import SecurityHeaders, build_api
from portal.domain import auth, billing
from portal.domain.audit import RequestInfo
from portal.models import AuditEvent, Invoice, InvoiceStatus, Payment, PaymentStatus, User
from portal.settings import get_settings
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_billing import make_billed_invoice, make_document, make_payment, provider_event, signed

COOKIE = get_settings().session_cookie_name


def client_for(db: Session, user: User | None) -> TestClient:
    # From this machine, as a developer's browser is (the simulator's page answers loopback only)
    c = TestClient(SecurityHeaders(build_api()), base_url="http://portal.test", follow_redirects=False,
                   client=("127.0.0.1", 50000))
    if user is not None:
        new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
        db.commit()
        c.cookies.set(COOKIE, new.raw_token)
    return c


def test_invoice_pdf_download_is_identical_and_labelled(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    c = client_for(db, ua)
    first = c.get(f"/api/files/invoices/{inv.id}.pdf")
    second = c.get(f"/api/files/invoices/{inv.id}.pdf")
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    assert first.headers["content-disposition"].startswith(f'attachment; filename="{inv.number}.pdf"')
    assert first.content == second.content and first.content.startswith(b"%PDF-")
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["x-content-type-options"] == "nosniff"


def test_another_customers_ids_get_404_and_are_audited(db: Session) -> None:
    _, ca = make_customer(db)
    ub, _ = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = make_payment(db, ca, inv)
    doc = make_document(db, ca)
    c = client_for(db, ub)
    for url in (f"/api/files/invoices/{inv.id}.pdf", f"/api/files/receipts/{pay.id}.pdf",
                f"/api/files/documents/{doc.id}", "/api/files/invoices/999999.pdf"):
        r = c.get(url)
        assert r.status_code == 404 and b"%PDF" not in r.content, url
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert {(e.target_type, e.target_id) for e in denied} >= {("invoice", str(inv.id)), ("payment", str(pay.id)),
                                                               ("document", str(doc.id))}
    assert all(e.actor_user_id == ub.id for e in denied)


def test_strangers_and_staff_get_nothing(db: Session) -> None:
    _, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    assert client_for(db, None).get(f"/api/files/invoices/{inv.id}.pdf").status_code == 401
    assert client_for(db, make_staff(db)).get(f"/api/files/invoices/{inv.id}.pdf").status_code == 404


def test_document_and_receipt_and_statement_and_csv(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca, status=InvoiceStatus.PAID)
    pay = make_payment(db, ca, inv, amount_cents=13495)
    doc = make_document(db, ca)
    c = client_for(db, ua)
    r = c.get(f"/api/files/documents/{doc.id}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-length"] == str(doc.size_bytes) and 'filename="agreement.pdf"' in r.headers[
        "content-disposition"]
    assert c.get(f"/api/files/receipts/{pay.id}.pdf").content.startswith(b"%PDF-")
    s = c.get("/api/files/statement.pdf", params={"from": "2020-01-01", "to": "2029-12-31"})
    assert s.status_code == 200 and s.content.startswith(b"%PDF-")
    assert c.get("/api/files/statement.pdf", params={"from": "nonsense"}).status_code == 400
    assert c.get("/api/files/statement.pdf", params={"from": "2025-02-01", "to": "2025-01-01"}).status_code == 400
    exp = c.get("/api/files/payments.csv")
    assert exp.headers["content-type"].startswith("text/csv")
    assert "attachment" in exp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exp.text)))
    assert rows[0][:3] == ["date", "payment_id", "invoice"] and rows[1][2] == inv.number and rows[1][3] == "134.95"


def _pending(db: Session, user: User, invoice: Invoice) -> Payment:
    started = billing.start_payment(db, principal=principal_for(user), invoice_id=invoice.id or 0,
                                    provider_base_url="http://portal.test", return_url="http://portal.test/b")
    db.commit()
    pay = db.get(Payment, started.payment_id)
    assert pay is not None
    return pay


def test_signed_webhook_pays_once_however_often_delivered(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = _pending(db, ua, inv)
    body, sig = signed(provider_event(pay))
    c = client_for(db, None)
    answers = [c.post("/api/webhooks/payments", content=body, headers={"Sim-Signature": sig}).json()["outcome"]
               for _ in range(3)]
    assert answers == ["succeeded", "duplicate", "duplicate"]
    db.refresh(inv)
    assert inv.status == InvoiceStatus.PAID and inv.amount_paid_cents == inv.total_cents


def test_malformed_forged_and_replayed_webhooks_change_nothing(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    pay = _pending(db, ua, inv)
    body, sig = signed(provider_event(pay))
    old_body, old_sig = signed(provider_event(pay), timestamp=int(time.time()) - 3600)
    _, wrong_sig = signed(provider_event(pay), secret="whsec_someone_else")
    c = client_for(db, None)
    cases = [
        (body, None),  # unsigned
        (body, wrong_sig),  # signed with another secret
        (body + b" ", sig),  # body changed after signing
        (old_body, old_sig),  # a replay of an old delivery
        (b"{not json", signed(provider_event(pay))[1]),
        (b'{"id": "x", "type": "checkout.succeeded"}', None),
    ]
    for payload, signature in cases:
        headers = {"Sim-Signature": signature} if signature else {}
        assert c.post("/api/webhooks/payments", content=payload, headers=headers).status_code == 400
    garbage = b'{"id":"e","type":"checkout.succeeded","created":1}'
    from portal.integrations import payments

    r = c.post("/api/webhooks/payments", content=garbage,
               headers={"Sim-Signature": payments.sign(garbage, secret=get_settings().payments_webhook_secret)})
    assert r.status_code == 400
    db.refresh(inv)
    db.refresh(pay)
    assert inv.status == InvoiceStatus.OPEN and pay.status == PaymentStatus.PENDING


def test_simulator_hosted_page_declines_and_accepts_test_cards(db: Session) -> None:
    ua, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    started = billing.start_payment(db, principal=principal_for(ua), invoice_id=inv.id or 0,
                                    provider_base_url="http://portal.test", return_url="http://portal.test/back")
    db.commit()
    path = started.url.removeprefix("http://portal.test")
    c = client_for(db, None)
    page = c.get(path)
    assert page.status_code == 200 and "134.95 EUR" in page.text and inv.number in page.text
    assert 'href="http://portal.test/back?checkout=cancelled"' in page.text
    bad = c.post(path, data={"card": "4242 4242 4242 4241", "exp": "12/39", "cvc": "123"})
    assert bad.status_code == 402 and "invalid" in bad.text
    expired = c.post(path, data={"card": "4242424242424242", "exp": "01/20", "cvc": "123"})
    assert "expired" in expired.text
    assert c.get(path[:-3] + "xyz").status_code == 404  # a tampered session token


def test_a_large_document_is_streamed_in_chunks(db: Session) -> None:
    from portal.api.files import CHUNK

    ua, ca = make_customer(db)
    doc = make_document(db, ca)
    big = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)
    (get_settings().files_dir / (doc.storage_key or "")).write_bytes(big)
    c = client_for(db, ua)
    with c.stream("GET", f"/api/files/documents/{doc.id}") as r:
        assert r.headers["content-length"] == str(len(big))
        chunks = list(r.iter_raw())
    assert b"".join(chunks) == big
    assert len(chunks) >= len(big) // CHUNK and max(len(ch) for ch in chunks) <= CHUNK
