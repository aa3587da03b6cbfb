"""The integration REST API: upserts for every resource, problem details, scopes, keys,
idempotency and cursor pagination."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from portal.domain.api import keys
from portal.domain.events import DomainEvent, subscribe, unsubscribe
from portal.models import (
    AuditEvent,
    Document,
    Invoice,
    MailMessage,
    Order,
    OrderLine,
    Role,
    Shipment,
    User,
)
from portal.settings import get_settings
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_api import api_client, customer_body, make_api_key, order_body

PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


@pytest.fixture
def heard() -> Any:
    events: list[DomainEvent] = []

    def listener(batch: list[DomainEvent]) -> None:
        events.extend(batch)

    subscribe(listener)
    yield events
    unsubscribe(listener)


def seed_customer(c: Any, external_id: str = "crm-1", **over: object) -> dict[str, Any]:
    r = c.put(f"/api/v1/customers/{external_id}", json=customer_body(**over))
    assert r.status_code in (200, 201), r.text
    return r.json()


# Customers ---------------------------------------------------------------------------------

def test_customer_upsert_creates_then_updates_and_invites_a_user(db: Session, heard: list[DomainEvent]) -> None:
    # Given a key that may write customers
    _, raw = make_api_key(db, "customers:write")
    c = api_client(raw)
    # When the CRM sends a customer twice under the same external id, the second time changed
    first = c.put("/api/v1/customers/crm-42", json=customer_body(invite_user=True))
    second = c.put("/api/v1/customers/crm-42", json=customer_body(name="Dana Fields-Ortiz"))
    # Then it was created once and updated once
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"] and second.json()["name"] == "Dana Fields-Ortiz"
    # And a portal user was invited by email, with no password until they choose one
    user = db.exec(select(User).where(User.email == "dana@example.com")).one()
    assert user.customer_id == first.json()["id"] and user.password_hash is None
    mail = db.exec(select(MailMessage).where(MailMessage.to_address == "dana@example.com")).one()
    assert "/reset?token=" in mail.body_text
    # And open browsers of that customer heard, and the audit trail names the API
    assert any(e.customer_id == user.customer_id for e in heard)
    actions = db.exec(select(AuditEvent.action, AuditEvent.actor_kind).where(
        AuditEvent.action.startswith("api.customer"))).all()  # type: ignore[attr-defined]
    assert set(actions) == {("api.customer.created", "api"), ("api.customer.updated", "api")}
    # And reading it back with GET gives the same shape
    got = c.get("/api/v1/customers/crm-42")
    assert got.status_code == 200 and got.json() == second.json()


def test_customer_bad_input_gets_problem_details(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write")
    c = api_client(raw)
    body = assert_problem(c.put("/api/v1/customers/crm-1", json={"name": "", "email": "nope", "extra": 1}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"body.name", "body.email", "body.extra"} <= fields
    assert_problem(c.put("/api/v1/customers/crm-1", content=b"{not json", headers={"content-type":
                                                                                 "application/json"}), 400)
    assert_problem(c.put("/api/v1/customers/crm-1", json=customer_body(name="nul\x00")), 422)
    assert_problem(c.put("/api/v1/customers/bad%20id", json=customer_body()), 422)
    assert_problem(c.put("/api/v1/customers/crm-1", content=b"x" * (1024 * 1024 + 1)), 413)
    assert_problem(c.get("/api/v1/customers/missing"), 404)
    assert_problem(c.get("/api/v1/nothing-here"), 404)
    assert_problem(c.get("/api/v1/customers", params={"limit": "many"}), 422)
    assert_problem(c.get("/api/v1/customers", params={"cursor": "!!"}), 422)


# Orders, shipments -------------------------------------------------------------------------

def test_order_upsert_by_number_with_lines_reaches_the_customers_dashboard(db: Session,
                                                                           heard: list[DomainEvent]) -> None:
    _, raw = make_api_key(db, "customers:write", "orders:write")
    c = api_client(raw)
    cust = seed_customer(c)
    r = c.put("/api/v1/orders/FH-9001", json=order_body())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["total_cents"] == 24900 + 495 and out["lines"][0]["sku"] == "TENT-2"
    # A changed line set replaces the lines by sku; the status change is recorded on the order
    r2 = c.put("/api/v1/orders/FH-9001", json=order_body(status="packed", lines=[
        {"sku": "TENT-2", "name": "Two-person tent", "quantity": 2, "unit_price_cents": 24900},
        {"sku": "PEG-10", "name": "Pegs", "quantity": 1, "unit_price_cents": 500}]))
    assert r2.status_code == 200 and r2.json()["status"] == "packed"
    order = db.exec(select(Order).where(Order.number == "FH-9001")).one()
    assert order.customer_id == cust["id"] and order.subtotal_cents == 2 * 24900 + 500
    assert len(db.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()) == 2
    assert any(e.topic == "orders" and e.customer_id == cust["id"] for e in heard)


def test_order_problems(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "orders:write")
    c = api_client(raw)
    seed_customer(c)
    seed_customer(c, "crm-2", email="other@example.com")
    assert_problem(c.put("/api/v1/orders/FH-1", json=order_body("crm-unknown")), 404)
    assert_problem(c.put("/api/v1/orders/FH-1", json=order_body(lines=[])), 422)
    dup = [{"sku": "A", "name": "a", "quantity": 1, "unit_price_cents": 1}] * 2
    assert_problem(c.put("/api/v1/orders/FH-1", json=order_body(lines=dup)), 422)
    assert_problem(c.put("/api/v1/orders/FH-1", json=order_body(status="lost")), 422)
    assert c.put("/api/v1/orders/FH-1", json=order_body()).status_code == 201
    # An order number never moves to another customer
    assert_problem(c.put("/api/v1/orders/FH-1", json=order_body("crm-2")), 409)


def test_shipment_by_carrier_and_tracking_number_is_picked_up_by_the_sweeper(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "orders:write", "shipments:write")
    c = api_client(raw)
    seed_customer(c)
    c.put("/api/v1/orders/FH-2", json=order_body())
    body = {"order_number": "FH-2", "carrier_name": "DHL", "tag": "InTransit",
            "expected_delivery_end": "2026-12-01T18:00:00+00:00"}
    r = c.put("/api/v1/shipments/dhl/JD0140001", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["next_poll_at"] is not None
    assert c.put("/api/v1/shipments/dhl/JD0140001", json=body).status_code == 200
    sh = db.exec(select(Shipment)).one()
    assert sh.tracking_number == "JD0140001" and sh.next_poll_at is not None
    assert_problem(c.put("/api/v1/shipments/DHL!/x", json=body), 422)
    assert_problem(c.put("/api/v1/shipments/dhl/JD2", json={**body, "order_number": "FH-nope"}), 404)
    assert_problem(c.put("/api/v1/shipments/dhl/JD2", json={**body, "expected_delivery_end": "2026-12-01T18:00"}),
                   422)


# Invoices, payments ------------------------------------------------------------------------

def test_invoice_with_lines_then_payment_settles_it(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "invoices:write", "payments:write")
    c = api_client(raw)
    seed_customer(c)
    inv = {"customer_external_id": "crm-1", "issued_at": "2026-11-01T09:00:00Z",
           "lines": [{"description": "Tent", "quantity": 1, "unit_price_cents": 12000, "tax_rate_bp": 2000}]}
    r = c.put("/api/v1/invoices/INV-77", json=inv)
    assert r.status_code == 201, r.text
    assert r.json()["total_cents"] == 12000 and r.json()["tax_cents"] == 2000
    pay = {"customer_external_id": "crm-1", "invoice_number": "INV-77", "amount_cents": 12000}
    assert c.put("/api/v1/payments/psp_1", json=pay).status_code == 201
    assert c.put("/api/v1/payments/psp_1", json=pay).status_code == 200
    assert db.exec(select(Invoice).where(Invoice.number == "INV-77")).one().status == "paid"
    assert c.get("/api/v1/invoices/INV-77").json()["amount_paid_cents"] == 12000
    assert_problem(c.put("/api/v1/payments/psp_2", json={**pay, "amount_cents": 0}), 422)
    assert_problem(c.put("/api/v1/payments/psp_2", json={**pay, "invoice_number": "INV-0"}), 404)
    assert_problem(c.put("/api/v1/invoices/INV-78", json={**inv, "issued_at": "0001-01-01T00:00:00+23:59"}), 422)


# Documents ---------------------------------------------------------------------------------

def test_document_metadata_and_private_file(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "documents:write")
    c = api_client(raw)
    seed_customer(c)
    r = c.put("/api/v1/documents/contract-1", json={"customer_external_id": "crm-1", "kind": "contract",
                                                    "status": "awaiting_signature", "title": "Supply agreement"})
    assert r.status_code == 201, r.text
    pdf = b"%PDF-1.4\n% test\n"
    up = c.put("/api/v1/documents/contract-1/file", content=pdf, params={"filename": "../../agreement.pdf"},
               headers={"content-type": "application/pdf"})
    assert up.status_code == 200, up.text
    doc = db.exec(select(Document).where(Document.external_id == "contract-1")).one()
    # Stored privately under a server-chosen name, never where the client said
    assert doc.storage_key and "agreement" not in doc.storage_key and "/" not in doc.filename
    stored = get_settings().files_dir / doc.storage_key
    assert stored.read_bytes() == pdf and doc.size_bytes == len(pdf)
    assert_problem(c.put("/api/v1/documents/missing/file", content=pdf), 404)
    assert_problem(c.put("/api/v1/documents/contract-1/file", content=b""), 422)


# Articles ----------------------------------------------------------------------------------

def test_article_upsert_by_slug(db: Session) -> None:
    _, raw = make_api_key(db, "articles:write")
    c = api_client(raw)
    body = {"title": "Returns in 30 days", "category_slug": "returns", "body_md": "# Returns", "status": "published"}
    r = c.put("/api/v1/articles/returns-30-days", json=body)
    assert r.status_code == 201 and r.json()["published_at"]
    assert c.put("/api/v1/articles/returns-30-days", json={**body, "title": "Returns"}).json()["title"] == "Returns"
    assert_problem(c.put("/api/v1/articles/returns-30-days", json={**body, "category_slug": "Bad Slug"}), 422)


# Keys and scopes ---------------------------------------------------------------------------

def test_scopes_are_enforced(db: Session) -> None:
    _, writer = make_api_key(db, "customers:write")
    _, reader = make_api_key(db, "customers:read", "orders:read")
    seed_customer(api_client(writer))
    r = api_client(reader)
    # A read key reads but cannot write, even with a perfect body
    assert r.get("/api/v1/customers/crm-1").status_code == 200
    body = assert_problem(r.put("/api/v1/customers/crm-1", json=customer_body()), 403)
    assert "customers:write" in body["detail"]
    # A key for customers cannot touch orders, invoices or articles
    w = api_client(writer)
    assert_problem(w.get("/api/v1/orders"), 403)
    assert_problem(w.put("/api/v1/orders/FH-1", json=order_body()), 403)
    assert_problem(w.get("/api/v1/invoices"), 403)
    assert_problem(w.put("/api/v1/articles/x", json={}), 403)


def test_missing_unknown_revoked_and_rotated_keys_are_refused(db: Session) -> None:
    key_id, raw = make_api_key(db, "customers:read")
    assert api_client(raw).get("/api/v1/customers").status_code == 200
    r = assert_problem(api_client().get("/api/v1/customers"), 401)
    assert r["detail"]
    assert_problem(api_client(raw + "x").get("/api/v1/customers"), 401)
    admin = principal_for(make_staff(db, role=Role.ADMIN))
    new, new_raw = keys.rotate_key(db, principal=admin, key_id=key_id)
    db.commit()
    assert_problem(api_client(raw).get("/api/v1/customers"), 401)
    assert api_client(new_raw).get("/api/v1/customers").status_code == 200
    keys.revoke_key(db, principal=admin, key_id=new.id or 0)
    db.commit()
    assert_problem(api_client(new_raw).get("/api/v1/customers"), 401)
    # Only the hash is stored
    assert raw not in str(db.exec(select(AuditEvent.data)).all())


def test_only_admins_manage_keys(db: Session) -> None:
    user, _ = make_customer(db)
    agent = make_staff(db)
    for who in (user, agent):
        with pytest.raises(Exception) as err:
            keys.create_key(db, principal=principal_for(who), name="x", scopes=["orders:read"])
        assert "admin only" in str(err.value)


# Idempotency and pagination ----------------------------------------------------------------

def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "orders:write")
    c = api_client(raw)
    seed_customer(c)
    h = {"Idempotency-Key": "order-FH-5-v1"}
    first = c.put("/api/v1/orders/FH-5", json=order_body(), headers=h)
    # Meanwhile someone changes the order; the retried request still gets the first answer
    c.put("/api/v1/orders/FH-5", json=order_body(status="shipped"))
    again = c.put("/api/v1/orders/FH-5", json=order_body(), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert db.exec(select(Order).where(Order.number == "FH-5")).one().status == "shipped"
    body = assert_problem(c.put("/api/v1/orders/FH-5", json=order_body(status="packed"), headers=h), 422)
    assert body["type"].endswith("idempotency-key-reuse")
    # Keys are per API key: another key may use the same string
    _, other = make_api_key(db, "orders:write")
    assert api_client(other).put("/api/v1/orders/FH-5", json=order_body(), headers=h).status_code == 200


def test_cursor_pagination_walks_every_row_once(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write")
    c = api_client(raw)
    for i in range(7):
        seed_customer(c, f"crm-{i}", email=f"p{i}@example.com")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = c.get("/api/v1/customers", params=params).json()
        seen += [row["external_id"] for row in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"crm-{i}" for i in range(7)] and pages == 3


def test_openapi_is_served_and_names_every_operation(db: Session) -> None:
    doc = api_client().get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    ops = {op["operationId"] for path in doc["paths"].values() for k, op in path.items() if k != "parameters"}
    for res in ("customer", "order", "shipment", "invoice", "payment", "document", "article"):
        assert {f"get_{res}", f"upsert_{res}"} <= ops
    assert "Problem" in doc["components"]["schemas"]


def test_natural_keys_longer_than_their_columns_are_refused_before_the_database(db: Session) -> None:
    _, raw = make_api_key(db, "customers:write", "orders:write", "invoices:write")
    c = api_client(raw)
    seed_customer(c)
    body = assert_problem(c.put(f"/api/v1/orders/{'N' * 33}", json=order_body()), 422)
    assert body["errors"][0]["field"] == "path.number"
    assert c.put(f"/api/v1/orders/{'N' * 32}", json=order_body()).status_code == 201


def test_references_never_cross_customers(db: Session) -> None:
    # Given two customers of the business, each with an invoice
    _, raw = make_api_key(db, "customers:write", "orders:write", "invoices:write", "payments:write",
                          "documents:write")
    c = api_client(raw)
    seed_customer(c, "crm-a", email="a@example.com")
    seed_customer(c, "crm-b", email="b@example.com")
    inv = {"issued_at": "2026-11-01T09:00:00Z", "lines": [{"description": "Tent", "unit_price_cents": 100}]}
    assert c.put("/api/v1/invoices/INV-A", json={**inv, "customer_external_id": "crm-a"}).status_code == 201
    assert c.put("/api/v1/orders/FH-A", json=order_body("crm-a")).status_code == 201
    # When a payment, an invoice or a document for B names A's invoice or order, it is refused
    pay = {"customer_external_id": "crm-b", "invoice_number": "INV-A", "amount_cents": 100}
    assert_problem(c.put("/api/v1/payments/psp-x", json=pay), 404)
    assert_problem(c.put("/api/v1/invoices/INV-B", json={**inv, "customer_external_id": "crm-b",
                                                         "order_number": "FH-A"}), 404)
    assert_problem(c.put("/api/v1/documents/doc-b", json={"customer_external_id": "crm-b", "title": "x",
                                                          "order_number": "FH-A"}), 404)
    # And A's invoice cannot be moved to B by reusing its number
    assert_problem(c.put("/api/v1/invoices/INV-A", json={**inv, "customer_external_id": "crm-b"}), 409)
    assert db.exec(select(Invoice).where(Invoice.number == "INV-A")).one().amount_paid_cents == 0
