"""CORS on the production server as `make run` starts it (Reflex applies rxconfig's
cors_allowed_origins to its own routes and to ours): only the portal's own origin (and configured
ones) may read responses sent with the person's cookie; another site gets no CORS headers."""

from __future__ import annotations

import httpx
from sqlmodel import Session

from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.settings import get_settings
from tests.factories import make_customer
from tests.factories_billing import make_billed_invoice
from tests.test_server import backend, server  # noqa: F401 - the module's server fixtures

EVIL = "https://evil.example"


def test_only_the_public_origin_may_read_private_responses_cross_origin(server: str, db: Session) -> None:  # noqa: F811
    user, customer = make_customer(db)
    inv = make_billed_invoice(db, customer)
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    cookies = {get_settings().session_cookie_name: new.raw_token}
    public = get_settings().portal_public_url.rstrip("/")
    for path in (f"/api/files/invoices/{inv.id}.pdf", "/api/files/payments.csv", "/api/health"):
        # Another site's page fetching with the person's cookie: the browser is not allowed to read it
        evil = httpx.get(server + path, cookies=cookies, headers={"origin": EVIL})
        # (Starlette sends allow-credentials on every response; without allow-origin it grants nothing.)
        assert "access-control-allow-origin" not in evil.headers, (path, evil.headers)
        # The portal's own origin may
        ok = httpx.get(server + path, cookies=cookies, headers={"origin": public})
        assert ok.status_code == 200, (path, ok.status_code)
        assert ok.headers["access-control-allow-origin"] == public
        assert ok.headers["access-control-allow-credentials"] == "true"
    # A preflight from another site is refused; the portal's own is answered
    pre = {"access-control-request-method": "PUT", "access-control-request-headers": "content-type"}
    evil = httpx.options(f"{server}/api/files/payments.csv", headers={"origin": EVIL, **pre})
    assert evil.headers.get("access-control-allow-origin") != EVIL
    assert evil.headers.get("access-control-allow-origin") != "*"
    ok = httpx.options(f"{server}/api/files/payments.csv", headers={"origin": public, **pre})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == public
