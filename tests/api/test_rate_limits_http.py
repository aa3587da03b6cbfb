"""Costly downloads are limited per session (issue 14: 612 statement and export downloads in 20 s),
attacked over real HTTP against a server process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.domain import auth, throttle
from portal.domain.audit import RequestInfo
from portal.models import User
from portal.settings import get_settings
from tests.factories import make_customer
from tests.factories_billing import make_billed_invoice, make_payment
from tests.support.live_api import LiveApi, serve_api


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir) as server:
        yield server


def _client(api: LiveApi, db: Session, user: User) -> httpx.Client:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    return httpx.Client(base_url=api.url, cookies={get_settings().session_cookie_name: new.raw_token}, timeout=20)


def test_a_session_downloading_in_a_loop_is_told_to_wait(db: Session, api: LiveApi) -> None:
    ua, ca = make_customer(db)
    make_payment(db, ca, make_billed_invoice(db, ca))
    ub, cb = make_customer(db)
    make_payment(db, cb, make_billed_invoice(db, cb))
    allowance = throttle.DOWNLOADS.limit
    with _client(api, db, ua) as alice, _client(api, db, ub) as bob:
        # When Alice's session fetches her payment history over and over
        answers = [alice.get("/api/files/payments.csv") for _ in range(allowance + 5)]
        # Then her allowance is served, and past it she is told to wait, and for how long
        assert [r.status_code for r in answers[:allowance]] == [200] * allowance
        late = answers[allowance:]
        assert {r.status_code for r in late} == {429}
        assert late[0].headers["retry-after"] == str(int(throttle.DOWNLOADS.window.total_seconds()))
        assert "Too many downloads" in late[0].text
        # The same limit covers every private download of that session (here her data export)
        assert alice.get("/api/account/export").status_code == 429
        # And Bob's session, meanwhile, is served as usual
        assert bob.get("/api/files/payments.csv").status_code == 200
