"""Authorised downloads for the home area: insights as CSV (admins), a customer's own data
archive (the customer)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from portal.api.common import request_info
from portal.db import session_scope, utcnow
from portal.domain import auth, insights, privacy
from portal.domain.errors import DomainError
from portal.domain.principal import Principal
from portal.settings import get_settings


def principal_of(request: Request) -> Principal | None:
    raw = request.cookies.get(get_settings().session_cookie_name)
    if not raw:
        return None
    with session_scope() as db:
        return auth.resolve_session(db, raw_token=raw)


async def insights_csv(request: Request) -> Response:
    principal = principal_of(request)
    if principal is None:
        return PlainTextResponse("Sign in first.", status_code=401)
    name = request.path_params["name"]
    try:
        rng = insights.parse_range(request.query_params.get("start", ""), request.query_params.get("end", ""))
        with session_scope() as db:
            rows = insights.report(db, principal=principal, name=name, rng=rng, limit=200)
    except DomainError as err:
        # Not an admin, or an unknown report: the same terse refusal.
        status = 404 if err.code in ("forbidden", "not_found") else 400
        return PlainTextResponse("Not available." if status == 404 else "Bad range or report.", status_code=status)
    _, label_col, value_col = insights.REPORTS[name]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([label_col, value_col])
    for label, value in rows:
        # Spreadsheet formula injection: labels are people's search terms.
        safe = "'" + label if label[:1] in ("=", "+", "-", "@", "\t", "\r") else label
        w.writerow([safe, int(value) if float(value).is_integer() else value])
    last_day = (rng.end - timedelta(days=1)).date().isoformat()
    filename = f"{name}_{rng.start.date().isoformat()}_{last_day}.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"',
                             "cache-control": "no-store"})


async def data_export(request: Request) -> Response:
    principal = principal_of(request)
    if principal is None or not principal.is_customer:
        return PlainTextResponse("Sign in as a customer first.", status_code=401)
    try:
        with session_scope() as db:
            archive = privacy.build_export(db, principal=principal, request=request_info(request))
    except DomainError:
        return PlainTextResponse("Not available.", status_code=404)

    def chunks() -> Iterator[bytes]:
        try:
            while block := archive.read(64 * 1024):
                yield block
        finally:
            archive.close()

    stamp = utcnow().strftime("%Y%m%d")
    return StreamingResponse(chunks(), media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="my-data-{stamp}.zip"',
                                      "cache-control": "no-store"})


routes = [
    Route("/api/account/export", data_export, methods=["GET"]),
    Route("/api/admin/insights/{name:str}.csv", insights_csv, methods=["GET"]),
]
