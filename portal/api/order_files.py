"""Authorised download of return labels: the owner gets the file streamed, anyone else
(another customer, staff, a stranger with a guessed id) gets the same 404, and the attempt is
written to the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from portal.api.common import (
    PRIVATE_NO_STORE,
    BadPathId,
    answer_in_language,
    download_refused,
    path_id,
    request_info,
    session_principal,
)
from portal.db import session_scope
from portal.domain import audit, returns
from portal.domain.errors import DomainError
from portal.i18n import tr

CHUNK = 64 * 1024


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            yield block


def _disposition(filename: str) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "label.pdf"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def return_label(request: Request) -> Response:
    try:
        return_id = path_id(request, "return_id")
    except BadPathId as bad:
        return bad.response()
    with session_scope() as db:
        principal = session_principal(request, db)
    if principal is not None and (refused := download_refused(principal)) is not None:
        return refused
    try:
        with session_scope() as db:
            if principal is not None:
                out = returns.return_label(db, principal=principal, return_id=return_id)
                return StreamingResponse(
                    _file_chunks(out.path), media_type=out.content_type,
                    headers={"Content-Disposition": _disposition(out.filename), "Content-Length": str(out.size_bytes),
                             "Cache-Control": PRIVATE_NO_STORE})
    except DomainError:
        pass
    # Not signed in, not theirs, or not there: one answer for all, so ids reveal nothing.
    with session_scope() as db:
        audit.access_denied(db, principal=principal, target_type="return_label", target_id=return_id,
                            request=request_info(request))
    with answer_in_language(request, principal):
        return PlainTextResponse(tr("Not found"), status_code=404)


routes = [Route("/api/returns/{return_id}/label.pdf", return_label, methods=["GET"])]
