"""The attachment route streams a file to the people allowed to read it and answers 404 to
everyone else, so nobody learns whether an id exists."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.testclient import TestClient

from portal.api.app import build_api
from portal.domain import attachments as att
from portal.domain import auth, support
from portal.domain.audit import RequestInfo
from portal.settings import get_settings
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_support import png_bytes


def _cookie(db: Session, user: Any) -> dict[str, str]:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    return {get_settings().session_cookie_name: new.raw_token}


def test_owner_and_staff_get_the_file_everyone_else_gets_404(db: Session) -> None:
    ua, _ = make_customer(db)
    ub, _ = make_customer(db)
    agent = make_staff(db)
    alice = principal_for(ua)
    photo = att.stage_attachment(db, principal=alice, filename="parcel.png", data=png_bytes())
    support.create_ticket(db, principal=alice, subject="Damaged", body="See photo", attachment_ids=[photo.id])
    db.commit()
    url = f"/api/support/attachments/{photo.id}"
    client = TestClient(build_api())

    own = client.get(url, cookies=_cookie(db, ua))
    assert own.status_code == 200 and own.content == png_bytes()
    assert own.headers["content-type"] == "image/png" and own.headers["cache-control"] == "private, no-store"
    assert client.get(url + "?download=1", cookies=_cookie(db, ua)).headers["content-disposition"].startswith(
        "attachment;")
    assert client.get(url, cookies=_cookie(db, agent)).status_code == 200

    client.cookies.clear()
    bobs = client.get(url, cookies=_cookie(db, ub))
    client.cookies.clear()
    stranger = client.get(url)
    missing = client.get("/api/support/attachments/999999", cookies=_cookie(db, ua))
    client.cookies.clear()
    garbage = client.get("/api/support/attachments/abc", cookies=_cookie(db, ua))
    for resp in (bobs, stranger, missing):
        assert resp.status_code == 404 and resp.text == "Not found"
    # Something that cannot be an id is bad input, and the answer says which part
    assert garbage.status_code == 400 and "attachment_id must be a whole number" in garbage.text
