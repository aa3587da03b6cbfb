"""The staff MFA policy over HTTP (issue 14): while an agent's or admin's role requires MFA they
have not set up, the websocket guard lets them only set it up, and every HTTP route answers them
as it answers a stranger. Attacked over real HTTP against a server process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.domain import attachments as att
from portal.domain import auth, insights, mfa, support
from portal.domain.audit import RequestInfo
from portal.models import Role, User
from portal.settings import get_settings
from tests.factories import make_customer, make_staff, principal_for
from tests.factories_support import png_bytes
from tests.support.live_api import LiveApi, serve_api


@pytest.fixture(scope="module")
def api(engine: Engine, root_dir: Path) -> Iterator[LiveApi]:
    with serve_api(root_dir) as server:
        yield server


def _cookies(db: Session, user: User) -> dict[str, str]:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    return {get_settings().session_cookie_name: new.raw_token}


def _get(api: LiveApi, path: str, cookies: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=api.url, cookies=cookies, timeout=20) as http:
        return http.get(path)


def test_staff_without_required_mfa_get_no_attachment_and_no_insights_csv(db: Session, api: LiveApi) -> None:
    # Given a ticket with a photo, and the policy that staff must use MFA
    ua, _ = make_customer(db)
    photo = att.stage_attachment(db, principal=principal_for(ua), filename="parcel.png", data=png_bytes())
    support.create_ticket(db, principal=principal_for(ua), subject="Damaged", body="See photo",
                          attachment_ids=[photo.id])
    agent = make_staff(db, role=Role.AGENT)
    admin = make_staff(db, role=Role.ADMIN)
    mfa.set_staff_mfa_requirement(db, principal=principal_for(admin), enabled=True, request=RequestInfo())
    db.commit()
    start, end = insights.default_range()
    attachment = f"/api/support/attachments/{photo.id}"
    csv = f"/api/admin/insights/failed_searches.csv?start={start}&end={end}"
    agent_cookies, admin_cookies = _cookies(db, agent), _cookies(db, admin)

    # When the agent and the admin, neither enrolled, fetch them over HTTP: refused as strangers are
    assert _get(api, attachment, agent_cookies).status_code == 404
    assert _get(api, csv, admin_cookies).status_code == 401

    # Then once they have set MFA up (the positive control), the same sessions get them
    for user in (agent, admin):
        user.mfa_enabled = True
        db.add(user)
    db.commit()
    got = _get(api, attachment, agent_cookies)
    assert got.status_code == 200 and got.content == png_bytes()
    report = _get(api, csv, admin_cookies)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
