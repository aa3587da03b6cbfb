"""The simulators and their public development secrets exist only for development on loopback
(issue 14: in development mode the simulators' public default keys were live on the same port).
Attacked over real HTTP against server processes configured as a deployment would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from portal.integrations import aftership, stripe_simulator
from portal.settings import get_settings
from tests.support.live_api import LiveApi, serve_api
from tests.support.production import PRODUCTION_ENV

SIMULATOR = "/_simulator/aftership/tracking/2026-07/trackings"
PROD = {**PRODUCTION_ENV, "PAYMENTS_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_live_51RealKeyOfThisShop",
        "STRIPE_WEBHOOK_SECRET": "whsec_endpoint_secret_of_this_shop"}
# PORTAL_ENV forgotten (development is the default) on a server with a real address
FORGOTTEN = {"PORTAL_ENV": "development", "PORTAL_PUBLIC_URL": "https://portal.fernhill.example",
             "PAYMENTS_PROVIDER": "stripe"}


def _forged_carrier_webhook(api: LiveApi) -> int:
    """A carrier webhook signed with the repository's public development secret."""
    raw = json.dumps({"event_id": "evt-forged", "event": "tracking_update", "msg": {}}).encode()
    sig = aftership.sign(raw, "dev-aftership-webhook-secret")
    return httpx.post(f"{api.url}/api/carrier/webhooks/aftership", content=raw, timeout=20,
                      headers={aftership.SIGNATURE_HEADER: sig, "content-type": "application/json"}).status_code


def _forged_stripe_webhook(api: LiveApi) -> int:
    """A Stripe event signed with the repository's public development secret."""
    raw = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded", "created": 1,
                      "data": {"object": {"id": "pi_x", "object": "payment_intent"}}}).encode()
    sig = stripe_simulator.signature(raw, secrets_=["whsec_simulator_development"])
    return httpx.post(f"{api.url}/api/webhooks/stripe", content=raw, timeout=20,
                      headers={"Stripe-Signature": sig, "content-type": "application/json"}).status_code


def _stripe_simulator(api: LiveApi) -> int:
    return httpx.post(f"{api.url}/_simulator/stripe/v1/checkout/sessions", timeout=20,
                      headers={"Authorization": "Bearer sk_test_simulator_development"}).status_code


def _simulator(api: LiveApi) -> int:
    return httpx.get(f"{api.url}{SIMULATOR}", timeout=20, headers={"as-api-key": "dev-aftership-api-key"}).status_code


@pytest.fixture(scope="module", params=["production", "development-on-a-public-url"])
def deployed(request: pytest.FixtureRequest, engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir, PROD if request.param == "production" else FORGOTTEN) as server:
        yield server


@pytest.fixture(scope="module")
def development(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    # The test run's settings: development tools, loopback URL
    with serve_api(root_dir, {"PAYMENTS_PROVIDER": "stripe"}) as server:
        yield server


def test_a_deployed_portal_has_no_simulator_and_refuses_development_secrets(deployed: LiveApi,
                                                                           request: pytest.FixtureRequest) -> None:
    assert _simulator(deployed) == 404
    assert httpx.get(f"{deployed.url}/_simulator/pay/anything", timeout=20).status_code == 404
    assert _stripe_simulator(deployed) == 404
    assert _forged_carrier_webhook(deployed) == 401
    # Signed with the public development secret: refused by production's own secret; a forgotten
    # development server on a public address has no secret it accepts, so Stripe is off there
    production = request.node.callspec.params["deployed"] == "production"
    assert _forged_stripe_webhook(deployed) == (400 if production else 404)


def test_development_on_loopback_has_them(development: LiveApi) -> None:
    # The positive control: the same requests reach the simulator and pass the signature check
    assert get_settings().development_tools
    assert _simulator(development) != 404
    assert _forged_carrier_webhook(development) != 401
    assert _stripe_simulator(development) == 400  # reached, and it wants line items
    assert _forged_stripe_webhook(development) == 200
