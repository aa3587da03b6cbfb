"""Test helpers for the integration API: keys with chosen scopes and an in-process client."""

from __future__ import annotations

from sqlmodel import Session
from starlette.testclient import TestClient

from portal.api.app import OriginGuard, SecurityHeaders, build_api
from portal.domain.api import keys
from portal.models import Role
from tests.factories import make_staff, principal_for


def make_api_key(db: Session, *scopes: str, name: str = "ERP") -> tuple[int, str]:
    """Returns (key id, raw key); the key is created by a fresh admin as in the portal."""
    admin = make_staff(db, role=Role.ADMIN)
    key, raw = keys.create_key(db, principal=principal_for(admin), name=name, scopes=list(scopes or keys.ALL_SCOPES))
    db.commit()
    return key.id or 0, raw


def api_client(raw_key: str | None = None) -> TestClient:
    headers = {"Authorization": f"Bearer {raw_key}"} if raw_key else {}
    return TestClient(OriginGuard(SecurityHeaders(build_api())), base_url="http://portal.test", headers=headers,
                      raise_server_exceptions=False)


def customer_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {"name": "Dana Fields", "email": "dana@example.com", "country": "GB"}
    body.update(over)
    return body


def order_body(customer: str = "crm-1", **over: object) -> dict[str, object]:
    body: dict[str, object] = {"customer_external_id": customer, "status": "paid",
                               "lines": [{"sku": "TENT-2", "name": "Two-person tent", "quantity": 1,
                                          "unit_price_cents": 24900}],
                               "shipping_cents": 495}
    body.update(over)
    return body
