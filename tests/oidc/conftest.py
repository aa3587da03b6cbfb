"""Two real OpenID providers (npm `oidc-provider`) on loopback for the whole session: two
issuers that know the same `sub`, so the tests can tell identities apart by issuer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc.provider import RunningProvider, run_provider

PORTAL = "http://portal.test"
CALLBACK = f"{PORTAL}/api/auth/sso/callback"


@pytest.fixture(scope="session")
def provider_a() -> Iterator[RunningProvider]:
    with run_provider(redirect_uris=[CALLBACK]) as p:
        yield p


@pytest.fixture(scope="session")
def provider_b() -> Iterator[RunningProvider]:
    with run_provider(redirect_uris=[CALLBACK]) as p:
        yield p
