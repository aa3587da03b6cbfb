"""Admins create, use, rotate and revoke API keys and register webhooks in the browser; other
people get nothing from those handlers, whatever they send over the websocket."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal.domain import outbox
from portal.models import ApiKey, Role, WebhookDelivery, WebhookEndpoint
from portal.seed.demo import DEMO_PASSWORD
from portal.state.admin_api import AdminApiKeysState, AdminWebhooksState
from tests.browser.test_forged_events import cookie_for, send_one
from tests.browser.test_login_flow import sign_in
from tests.factories import make_customer, make_staff
from tests.jobs.test_webhooks import Receiver
from tests.support.aio import run_async as run
from tests.support.reflex_client import deltas_text, handler_name

pytestmark = pytest.mark.browser


def test_admin_creates_a_key_sees_it_once_uses_it_and_revokes_it(page: Any, demo: Any, db: Session,
                                                                 backend_url: str) -> None:
    # Given the admin on the API keys page
    sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.goto("/admin/api-keys")
    page.get_by_test_id("page-ready").wait_for(state="attached")  # typing before hydration is lost
    # When they create a key that may write orders and read customers
    page.get_by_test_id("key-name").fill("Shop")
    page.get_by_test_id("scope-orders").click()
    page.get_by_role("option", name="write").click()
    page.get_by_test_id("scope-customers").click()
    page.get_by_role("option", name="read").click()
    page.get_by_test_id("create-key").click()
    # Then the key is shown once, and only its hash is stored
    shown = page.get_by_test_id("new-api-key")
    shown.wait_for(state="visible")
    raw = shown.inner_text().strip()
    assert raw.startswith("fhk_")
    row = db.exec(select(ApiKey).where(ApiKey.name == "Shop")).one()
    assert row.key_hash != raw and raw not in row.key_hash
    assert sorted(row.scopes) == ["customers:read", "orders:write"]
    # And the key works against the API, within its scopes
    api = httpx.Client(base_url=backend_url, headers={"Authorization": f"Bearer {raw}"})
    assert api.get("/api/v1/customers").status_code == 200
    assert api.get("/api/v1/invoices").status_code == 403
    # When the admin opens the page again the key is no longer shown
    page.reload()
    page.get_by_test_id("api-key-row").first.wait_for()
    expect(page.get_by_test_id("new-api-key")).to_be_hidden()
    assert raw not in page.content()
    # When they rotate it, a new key is shown once and the old one stops working
    page.get_by_test_id("rotate-key").first.click()
    # (the old key's row turning "revoked" is the handler's answer; the page had no badge before)
    expect(page.get_by_text("revoked", exact=True)).to_have_count(1)
    # (the badge is the state's delta; the new key is the one-time message after it, so it is waited
    # for by itself: the slot is empty since the reload, and an empty slot is "not the old key" too)
    shown_again = page.get_by_test_id("new-api-key")
    expect(shown_again).to_have_text(re.compile(r"^\s*fhk_\S+\s*$"))
    rotated = shown_again.inner_text().strip()
    assert rotated != raw and api.get("/api/v1/customers").status_code == 401
    api2 = httpx.Client(base_url=backend_url, headers={"Authorization": f"Bearer {rotated}"})
    assert api2.get("/api/v1/customers").status_code == 200
    # And once revoked it is refused too
    page.get_by_test_id("revoke-key").first.click()
    expect(page.get_by_text("revoked", exact=True)).to_have_count(2)
    assert api2.get("/api/v1/customers").status_code == 401


def test_admin_registers_a_webhook_and_replays_a_delivery(page: Any, demo: Any, db: Session,
                                                          allow_private_webhook_targets: None) -> None:
    # The receiver listens on loopback, which only this setting allows (the harness runs in-process)
    receiver = Receiver()
    try:
        sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
        page.wait_for_url(re.compile(r"/agent"))
        page.goto("/admin/webhooks")
        page.get_by_test_id("page-ready").wait_for(state="attached")
        page.get_by_test_id("webhook-url").fill(receiver.url)
        page.get_by_test_id("webhook-kinds").fill("ticket.*")
        page.get_by_test_id("create-webhook").click()
        page.get_by_test_id("new-webhook-secret").wait_for(state="visible")
        assert page.get_by_test_id("new-webhook-secret").inner_text().startswith("whsec_")
        ep = db.exec(select(WebhookEndpoint)).one()
        assert ep.kinds == ["ticket.*"] and "whsec_" not in ep.secret_encrypted
        # A delivery that failed shows its last response; the admin replays it
        ev = outbox.enqueue(db, kind="ticket.opened", customer_id=None, payload={"ticket": "T-1"})
        db.flush()
        db.add(WebhookDelivery(endpoint_id=ep.id or 0, outbound_event_id=ev.id or 0, status="failed", attempts=8,
                               last_status_code=500, last_response="receiver down"))
        ep.last_outbound_id = ev.id or 0
        db.add(ep)
        db.commit()
        page.reload()
        page.get_by_text("receiver down").wait_for()
        page.get_by_test_id("replay-delivery").first.click()
        page.get_by_text("will be sent again").wait_for()
        d = db.exec(select(WebhookDelivery)).one()
        db.refresh(d)
        assert d.status == "pending" and d.attempts == 0
    finally:
        receiver.server.shutdown()


def test_customers_and_agents_cannot_create_keys_or_endpoints_by_forging_events(db: Session, harness: Any,
                                                                                backend_url: str) -> None:
    ua, _ = make_customer(db)
    agent = make_staff(db, role=Role.AGENT)
    for who in (ua, agent):
        cookie = cookie_for(db, who)
        form = {"form_data": {"name": "stolen", "scope_orders": "write"}}
        updates = run(send_one_with(backend_url, cookie, handler_name(AdminApiKeysState.create), form,
                                    "/admin/api-keys"))
        assert "fhk_" not in deltas_text(updates)
        hook = {"form_data": {"url": "http://127.0.0.1:9/steal"}}
        updates = run(send_one_with(backend_url, cookie, handler_name(AdminWebhooksState.create), hook,
                                    "/admin/webhooks"))
        assert "whsec_" not in deltas_text(updates)
    assert db.exec(select(ApiKey)).first() is None
    assert db.exec(select(WebhookEndpoint)).first() is None
    # The load handler of the keys page reveals nothing either
    assert "fhk_" not in deltas_text(run(send_one(backend_url, cookie_for(db, ua),
                                                  handler_name(AdminApiKeysState.load), "/admin/api-keys")))


async def send_one_with(backend_url: str, cookie: str, name: str, payload: dict[str, Any],
                        path: str) -> list[dict[str, Any]]:
    from tests.support.reflex_client import ReflexClient

    async with ReflexClient(backend_url, cookie=cookie) as c:
        return await c.send(name, payload, path=path)


def test_an_order_sent_through_the_api_appears_on_the_open_dashboard(page: Any, demo: Any, db: Session,
                                                                     backend_url: str) -> None:
    from tests.browser.test_live_dashboard import customer_of
    from tests.factories_api import make_api_key, order_body

    # Given Alice's dashboard is open, and her CRM id is known to the portal
    alice = customer_of(db, "alice@example.com")
    alice.external_id = "crm-alice"
    db.add(alice)
    db.commit()
    _, raw = make_api_key(db, "orders:write")
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_test_id("order-row").first.wait_for()
    # When the shop sends a new order for her through the API
    r = httpx.put(f"{backend_url}/api/v1/orders/FH-API-1", json=order_body("crm-alice"),
                  headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 201, r.text
    # Then it appears at the top of her recent orders without a reload
    page.get_by_test_id("order-row").first.get_by_text("FH-API-1").wait_for(timeout=10_000)
