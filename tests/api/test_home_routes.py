"""The home area's authorised downloads: insights CSV (admins), the data archive (the customer)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from sqlmodel import Session
from starlette.testclient import TestClient

from portal.api.app import build_api
from portal.domain import auth, insights
from portal.domain.audit import RequestInfo
from portal.models import SearchQuery
from portal.models.base import Role
from portal.settings import get_settings
from tests.factories import make_customer, make_order, make_staff


def cookie(db: Session, user: Any) -> dict[str, str]:
    new = auth.create_session(db, user=user, request=RequestInfo(), auth_method="password", mfa_verified=True)
    db.commit()
    return {get_settings().session_cookie_name: new.raw_token}


def client() -> TestClient:
    return TestClient(build_api(), base_url="http://portal.test")


def test_insights_csv_is_for_admins_only(db: Session) -> None:
    ua, _ = make_customer(db)
    admin = make_staff(db, role=Role.ADMIN)
    db.add(SearchQuery(user_id=ua.id, query="=HYPERLINK()", normalized="=hyperlink()", result_count=0))
    db.commit()

    start, end = insights.default_range()
    url = f"/api/admin/insights/failed_searches.csv?start={start}&end={end}"
    c = client()
    assert c.get(url).status_code == 401
    c.cookies.update(cookie(db, ua))
    assert c.get(url).status_code == 404
    c.cookies.clear()
    c.cookies.update(cookie(db, admin))
    r = c.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines() == ["search,count", "'=hyperlink(),1"]
    assert c.get(f"/api/admin/insights/nope.csv?start={start}&end={end}").status_code in (400, 404)


def test_the_data_archive_is_the_callers_own(db: Session) -> None:
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_order, b_order = make_order(db, ca), make_order(db, cb)
    c = client()
    assert c.get("/api/account/export").status_code == 401
    c.cookies.update(cookie(db, ub))
    r = c.get("/api/account/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        numbers = [o["number"] for o in json.loads(zf.read("orders.json"))]
        everything = "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    assert numbers == [b_order.number]
    assert a_order.number not in everything and ua.email not in everything


def test_staff_get_no_archive(db: Session) -> None:
    agent = make_staff(db)
    c = client()
    c.cookies.update(cookie(db, agent))
    assert c.get("/api/account/export").status_code == 401
