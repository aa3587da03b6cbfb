"""Property-based run of schemathesis against /api/v1/openapi.json, in process: whatever
the generated requests (valid or not), no server error and every response matches the
documented status codes, content types and schemas."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from portal.api.app import build_api
from tests.factories_api import api_client, customer_body, make_api_key, order_body

schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", build_api())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def auth(db: Session) -> dict[str, str]:
    # A key with every scope, and a customer and an order that generated requests can refer to.
    _, raw = make_api_key(db)
    c = api_client(raw)
    c.put("/api/v1/customers/0", json=customer_body())
    c.put("/api/v1/orders/0", json=order_body("0"))
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_honours_its_openapi_description(case: Any, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth, checks=CHECKS)
