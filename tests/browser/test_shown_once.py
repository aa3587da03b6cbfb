"""Secrets shown once (API key, webhook signing secret, TOTP seed, recovery codes): the person
sees them once in the browser, while the server's state for their tab (what the state manager
keeps, and pickles to Redis when scaled out) never holds them, and a reload never shows them again."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from portal.seed.demo import DEMO_PASSWORD
from portal.state.admin_api import AdminApiKeysState
from tests.browser.test_login_flow import sign_in
from tests.jobs.test_webhooks import Receiver
from tests.support.redis_state import tab_bytes

pytestmark = pytest.mark.browser


def tab_state_bytes(page: Any, cls: type) -> bytes:
    """Everything the state manager keeps for this page's tab, serialised as Reflex stores it
    (each substate's pickle: what the Redis manager writes, read back through it when scaled out)."""
    from reflex.istate.manager.token import BaseStateToken

    from portal.live.push import runtime as live

    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    assert token
    if redis_url := os.environ.get("REFLEX_REDIS_URL"):
        # Scaled out, what is kept is what Redis holds (every key of the tab, one per substate),
        # once the worker that serves the tab has written it (tests/support/redis_state.py).
        return tab_bytes(redis_url, token)

    async def dump() -> bytes:
        assert live.app is not None
        root: Any = await live.app.state_manager.get_state(BaseStateToken(ident=token, cls=cls))
        await root.get_state(cls)  # the page's state is loaded, whatever the manager loaded lazily
        while root.parent_state is not None:
            root = root.parent_state
        out, todo = [], [root]
        while todo:
            state = todo.pop()
            out.append(state._serialize())
            todo.extend(state.substates.values())
        return b"".join(out)

    assert live.loop is not None
    return asyncio.run_coroutine_threadsafe(dump(), live.loop).result(timeout=20)


def test_a_new_api_key_and_signing_secret_live_only_in_the_page(
        page: Any, demo: Any, allow_private_webhook_targets: None) -> None:
    # Given the admin creating an API key
    sign_in(page, "admin@fernhill-outfitters.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/agent"))
    page.get_by_role("heading", name="Agent console").first.wait_for()
    page.goto("/admin/api-keys")
    page.get_by_test_id("page-ready").wait_for(state="attached")  # typing before hydration is lost
    page.get_by_test_id("key-name").fill("Warehouse-7")
    page.get_by_test_id("scope-orders").click()
    page.get_by_role("option", name="read").click()
    page.get_by_test_id("create-key").click()
    # Then they see the key, once
    page.get_by_test_id("new-api-key").wait_for(state="visible")
    raw = page.get_by_test_id("new-api-key").inner_text().strip()
    assert raw.startswith("fhk_")
    # And the tab's server-side state holds the new key's row (the check sees state) but not the key
    kept = tab_state_bytes(page, AdminApiKeysState)
    assert b"Warehouse-7" in kept
    assert raw.encode() not in kept and raw[4:].encode() not in kept
    # And a reload does not bring it back
    page.reload()
    page.get_by_test_id("api-key-row").first.wait_for()
    expect(page.get_by_test_id("new-api-key")).to_be_hidden()
    assert raw not in page.content()

    # The same for an outbound webhook's signing secret
    receiver = Receiver()
    try:
        page.goto("/admin/webhooks")
        page.get_by_test_id("page-ready").wait_for(state="attached")  # typing before hydration is lost
        page.get_by_test_id("webhook-url").fill(receiver.url)
        page.get_by_test_id("webhook-kinds").fill("ticket.*")
        page.get_by_test_id("create-webhook").click()
        page.get_by_test_id("new-webhook-secret").wait_for(state="visible")
        secret = page.get_by_test_id("new-webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        from portal.state.admin_api import AdminWebhooksState

        kept = tab_state_bytes(page, AdminWebhooksState)
        assert receiver.url.encode() in kept and secret.encode() not in kept
        page.reload()
        page.get_by_test_id("webhook-url").wait_for()
        assert secret not in page.content()
    finally:
        receiver.server.shutdown()


def test_the_totp_seed_and_recovery_codes_live_only_in_the_page(page: Any, demo: Any) -> None:
    from portal.state.security import SecurityState

    # Given a customer turning on two-factor authentication
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/security")
    page.get_by_test_id("page-ready").wait_for(state="attached")  # typing before hydration is lost
    page.get_by_test_id("start-mfa").click()
    seed = page.get_by_test_id("totp-secret")
    expect(seed).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))
    secret = seed.inner_text().strip()
    assert (page.get_by_role("img", name="QR code for your authenticator app").get_attribute("src") or "") \
        .startswith("data:image/svg+xml")
    # Then the seed is in the page but not in the tab's server-side state (which does say it is enrolling)
    kept = tab_state_bytes(page, SecurityState)
    assert secret.encode() not in kept
    # When they confirm with a code from their app
    page.get_by_test_id("confirm-code-input").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("confirm-mfa").click()
    page.get_by_test_id("recovery-codes").wait_for(state="visible")
    codes = page.get_by_test_id("recovery-codes").inner_text().split()
    assert len(codes) == 10
    # Then the codes are shown once and kept nowhere on the server's side of the tab
    kept = tab_state_bytes(page, SecurityState)
    assert b"ben@example.com" in kept  # the check sees the tab's state
    assert not [c for c in codes if c.encode() in kept] and secret.encode() not in kept
    # And a reload shows neither again
    page.reload()
    page.get_by_test_id("mfa-on").wait_for()
    content = page.content()
    assert secret not in content and not [c for c in codes if c in content]
