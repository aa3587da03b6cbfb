"""Authorised downloads for the home area: insights as CSV (admins), a customer's own data
archive (the customer)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from portal.api.common import (
    PRIVATE_NO_STORE,
    answer_in_language,
    download_refused,
    request_info,
    session_principal,
)
from portal.db import session_scope, utcnow
from portal.domain import insights, privacy, spreadsheet
from portal.domain.errors import DomainError
from portal.domain.principal import Principal
from portal.i18n import tr


def principal_of(request: Request) -> Principal | None:
    with session_scope() as db:
        return session_principal(request, db)


def insights_csv(request: Request) -> Response:
    principal = principal_of(request)
    if principal is None:
        with answer_in_language(request):
            return PlainTextResponse(tr("Sign in first."), status_code=401)
    if (refused := download_refused(principal)) is not None:
        return refused
    with answer_in_language(request, principal):
        return _insights_csv(request, principal)


def _insights_csv(request: Request, principal: Principal) -> Response:
    """The report as CSV, its header and fixed row labels in the admin's language."""
    name = request.path_params["name"]
    try:
        rng = insights.parse_range(request.query_params.get("start", ""), request.query_params.get("end", ""))
        with session_scope() as db:
            rows = insights.report(db, principal=principal, name=name, rng=rng, limit=200)
    except DomainError as err:
        # Not an admin, or an unknown report: the same terse refusal.
        status = 404 if err.code in ("forbidden", "not_found") else 400
        return PlainTextResponse(tr("Not available.") if status == 404 else tr("Bad range or report."),
                                 status_code=status)
    buf = io.StringIO()
    w = spreadsheet.writer(buf)
    w.writerow(list(insights.columns(name)))
    for label, value in rows:
        # Labels are people's search terms: the writer neutralises formulas.
        w.writerow([insights.row_label(name, label), int(value) if float(value).is_integer() else value])
    last_day = (rng.end - timedelta(days=1)).date().isoformat()
    filename = f"{name}_{rng.start.date().isoformat()}_{last_day}.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"',
                             "cache-control": PRIVATE_NO_STORE})


def data_export(request: Request) -> Response:
    principal = principal_of(request)
    if principal is None or not principal.is_customer:
        with answer_in_language(request, principal):
            return PlainTextResponse(tr("Sign in as a customer first."), status_code=401)
    if (refused := download_refused(principal)) is not None:
        return refused
    try:
        with answer_in_language(request, principal), session_scope() as db:
            archive = privacy.build_export(db, principal=principal, request=request_info(request))
    except DomainError:
        with answer_in_language(request, principal):
            return PlainTextResponse(tr("Not available."), status_code=404)

    def chunks() -> Iterator[bytes]:
        try:
            while block := archive.read(64 * 1024):
                yield block
        finally:
            archive.close()

    stamp = utcnow().strftime("%Y%m%d")
    return StreamingResponse(chunks(), media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="my-data-{stamp}.zip"',
                                      "cache-control": PRIVATE_NO_STORE})


routes = [
    Route("/api/account/export", data_export, methods=["GET"]),
    Route("/api/admin/insights/{name:str}.csv", insights_csv, methods=["GET"]),
]
