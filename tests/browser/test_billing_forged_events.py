"""Forged websocket events against billing and documents: customer B gets nothing of customer A's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent, Document, DocumentKind, DocumentStatus, Payment, PaymentMethod
from portal.state.billing import BillingState
from portal.state.documents import DocumentsState
from portal.state.invoice_detail import InvoiceState
from tests.browser.test_forged_events import cookie_for
from tests.factories import make_customer
from tests.factories_billing import make_billed_invoice, make_card, make_document
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

pytestmark = pytest.mark.browser


async def send_many(backend_url: str, cookie: str | None, calls: list[tuple[str, dict[str, Any], str]]
                    ) -> list[dict[str, Any]]:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        out: list[dict[str, Any]] = []
        for name, payload, path in calls:
            out += await c.send(name, payload, path=path)
        return out


def test_b_cannot_open_or_pay_a_invoice_by_forging_its_id(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db, name="Alice")
    ub, cb = make_customer(db, name="Bob")
    a_inv = make_billed_invoice(db, ca, lines=(("Alice's secret tent", 1, 45600),))
    b_inv = make_billed_invoice(db, cb, lines=(("Bob's stove", 1, 3900),))
    cookie = cookie_for(db, ub)
    path = f"/billing/invoices/{a_inv.id}"
    updates = run(send_many(backend_url, cookie, [(handler_name(InvoiceState.load), {}, path),
                                                  (handler_name(InvoiceState.pay), {}, path)]))
    text = deltas_text(updates)
    assert a_inv.number not in text and "secret tent" not in text and "could not find" in text
    assert db.exec(select(Payment)).all() == []  # no checkout was started for Alice's invoice
    denied = db.exec(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert any(e.target_id == str(a_inv.id) and e.actor_user_id == ub.id for e in denied)
    # The same calls for Bob's own invoice work, so a leak would show
    own = deltas_text(run(send_many(backend_url, cookie, [(handler_name(InvoiceState.load), {},
                                                            f"/billing/invoices/{b_inv.id}")])))
    assert b_inv.number in own and "Bob's stove" in own


def test_billing_page_lists_only_the_callers_invoices_and_cards(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_inv, b_inv = make_billed_invoice(db, ca), make_billed_invoice(db, cb)
    a_card = make_card(db, ca, last4="1111", is_default=True)
    cookie = cookie_for(db, ub)
    updates = run(send_many(backend_url, cookie, [
        (handler_name(BillingState.load), {}, "/billing"),
        (handler_name(BillingState.remove_card), {"card_id": a_card.id}, "/billing"),
        (handler_name(BillingState.make_default_card), {"card_id": a_card.id}, "/billing"),
        (handler_name(BillingState.go_to_page), {"page": "1; drop table"}, "/billing"),
        (handler_name(BillingState.apply_filters), {"form": {"query": ["x"], "status": {"a": 1}}}, "/billing"),
    ]))
    text = deltas_text(updates)
    assert b_inv.number in text and a_inv.number not in text and "1111" not in text
    db.expire_all()
    assert db.get(PaymentMethod, a_card.id) is not None


def test_b_cannot_sign_or_upload_a_documents(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    ub, _ = make_customer(db)
    contract = make_document(db, ca, title="Alice's confidential agreement")
    cookie = cookie_for(db, ub)
    updates = run(send_many(backend_url, cookie, [
        (handler_name(DocumentsState.load), {}, "/documents"),
        (handler_name(DocumentsState.start_signing), {"document_id": contract.id}, "/documents"),
        (handler_name(DocumentsState.sign), {"form": {"full_name": "Bob Bobson", "accepted": "on"}}, "/documents"),
        (handler_name(DocumentsState.start_upload), {"document_id": contract.id}, "/documents"),
    ]))
    assert "confidential" not in deltas_text(updates)
    db.expire_all()
    doc = db.get(Document, contract.id)
    assert doc is not None and doc.status == DocumentStatus.AWAITING_SIGNATURE and doc.signed_at is None


def test_strangers_are_sent_to_sign_in(db: Session, harness: Any, backend_url: str) -> None:
    _, ca = make_customer(db)
    inv = make_billed_invoice(db, ca)
    for name, path in ((handler_name(BillingState.load), "/billing"),
                       (handler_name(InvoiceState.load), f"/billing/invoices/{inv.id}"),
                       (handler_name(DocumentsState.load), "/documents")):
        updates = run(send_many(backend_url, None, [(name, {}, path)]))
        assert any(r.startswith("/login") for r in redirects(updates))
        assert inv.number not in deltas_text(updates)


def test_a_forged_upload_event_stores_nothing(db: Session, harness: Any, backend_url: str) -> None:
    ua, ca = make_customer(db)
    ask = make_document(db, ca, kind=DocumentKind.UPLOAD, status=DocumentStatus.REQUESTED, title="ID scan",
                        with_file=False)
    updates = run(send_many(backend_url, cookie_for(db, ua), [
        (handler_name(DocumentsState.start_upload), {"document_id": ask.id}, "/documents"),
        (handler_name(DocumentsState.handle_upload), {"files": [{"filename": "x.pdf", "file": "%PDF-1.4"}]},
         "/documents"),
    ]))
    assert "ID scan" in deltas_text(updates)  # the dialog opened for her own request
    db.expire_all()
    doc = db.get(Document, ask.id)
    assert doc is not None and doc.status == DocumentStatus.REQUESTED and doc.storage_key is None
