"""Where online payment is on: Stripe when it is configured, the simulator only in development."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.domain import billing
from portal.settings import ConfigError, get_settings, reset_settings_cache
from tests.support.production import PRODUCTION_ENV

PRODUCTION = {**PRODUCTION_ENV, "PAYMENTS_PROVIDER": "stripe"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    reset_settings_cache()


def configure(env: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        env.setenv(key, value)
    reset_settings_cache()


def test_production_pays_through_stripe_once_it_is_configured(env: pytest.MonkeyPatch) -> None:
    # With the simulator's public development key and secret, production does not start at all
    configure(env, **PRODUCTION)
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        get_settings()
    # With only a real key, still not (events could not be verified)
    configure(env, STRIPE_SECRET_KEY="sk_live_51Realkey")
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        get_settings()
    # With a real key and the endpoint's secret(s), yes: against Stripe's own API
    configure(env, STRIPE_WEBHOOK_SECRET="whsec_new, whsec_old")
    assert billing.online_payment_available("https://portal.example.com")
    provider = billing.stripe_provider("https://portal.example.com")
    assert provider.api_base == "" and get_settings().stripe_webhook_secrets == ["whsec_new", "whsec_old"]
    # Pointed at the bundled simulator, production refuses
    configure(env, STRIPE_API_BASE="https://portal.example.com/_simulator/stripe")
    with pytest.raises(ConfigError, match="STRIPE_API_BASE"):
        get_settings()


def test_production_refuses_the_bundled_simulators(env: pytest.MonkeyPatch) -> None:
    configure(env, **{**PRODUCTION, "PAYMENTS_PROVIDER": "simulator"})
    with pytest.raises(ConfigError, match="PAYMENTS_PROVIDER"):
        get_settings()
    # While development on this machine uses the Stripe simulator through the Stripe adapter
    configure(env, PORTAL_ENV="development", PORTAL_PUBLIC_URL="http://localhost:3000", PAYMENTS_PROVIDER="stripe",
              STRIPE_SECRET_KEY="sk_test_simulator_development", STRIPE_WEBHOOK_SECRET="whsec_simulator_development")
    provider = billing.stripe_provider("http://127.0.0.1:3000")
    assert provider.api_base == "http://127.0.0.1:3000/_simulator/stripe"
