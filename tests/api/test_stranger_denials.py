"""A stranger probing return labels writes one audit row per address and window, with a count,
not a row per probe (issue 14). Attacked over real HTTP against a server process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.models import AuditEvent
from portal.settings import get_settings
from tests.factories import make_customer
from tests.support.live_api import LiveApi, serve_api


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir) as server:
        yield server


def _denials(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(col(AuditEvent.action) == "access.denied")).all())


def test_probing_return_labels_is_counted_on_one_row(db: Session, api: LiveApi) -> None:
    # When a stranger tries 60 return label ids
    with httpx.Client(base_url=api.url, timeout=20) as http:
        answers = {http.get(f"/api/returns/{n}/label.pdf").status_code for n in range(1, 61)}
    assert answers == {404}
    # Then the audit log has one row for that address, counting every try and naming the last ones
    rows = _denials(db)
    assert len(rows) == 1
    assert rows[0].actor_user_id is None and rows[0].ip_address == "127.0.0.1"
    assert rows[0].data["count"] == 60 and rows[0].data["targets"][-1] == "return_label:60"
    # While a signed-in customer's refusal (attributable, limited per session) is a row of its own
    user, _ = make_customer(db)
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    with httpx.Client(base_url=api.url, timeout=20,
                      cookies={get_settings().session_cookie_name: new.raw_token}) as http:
        assert http.get("/api/returns/7/label.pdf").status_code == 404
    rows = _denials(db)
    assert len(rows) == 2 and [r.actor_user_id for r in rows].count(user.id) == 1
