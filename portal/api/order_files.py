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

from portal.api.common import request_info
from portal.db import session_scope
from portal.domain import audit, auth, returns
from portal.domain.errors import DomainError
from portal.domain.principal import Principal
from portal.settings import get_settings

CHUNK = 64 * 1024


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            yield block


def _disposition(filename: str) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "label.pdf"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def return_label(request: Request) -> Response:
    return_id = request.path_params["return_id"]
    principal: Principal | None = None
    try:
        with session_scope() as db:
            principal = auth.resolve_session(db, raw_token=request.cookies.get(get_settings().session_cookie_name))
            if principal is not None:
                out = returns.return_label(db, principal=principal, return_id=return_id)
                return StreamingResponse(
                    _file_chunks(out.path), media_type=out.content_type,
                    headers={"Content-Disposition": _disposition(out.filename), "Content-Length": str(out.size_bytes),
                             "Cache-Control": "private, no-store"})
    except DomainError:
        pass
    # Not signed in, not theirs, or not there: one answer for all, so ids reveal nothing.
    with session_scope() as db:
        audit.access_denied(db, principal=principal, target_type="return_label", target_id=return_id,
                            request=request_info(request))
    return PlainTextResponse("Not found", status_code=404)


routes = [Route("/api/returns/{return_id:int}/label.pdf", return_label, methods=["GET"])]
