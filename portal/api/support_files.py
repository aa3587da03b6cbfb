"""Ticket attachments, for the people allowed to read them; everyone else gets 404."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from portal.api.common import (
    PRIVATE_NO_STORE,
    BadPathId,
    answer_in_language,
    download_refused,
    path_id,
    session_principal,
)
from portal.db import session_scope
from portal.domain import attachments
from portal.domain.errors import DomainError
from portal.i18n import tr


def download(request: Request) -> Response:
    try:
        attachment_id = path_id(request, "attachment_id")
    except BadPathId as bad:
        return bad.response()
    with session_scope() as db:
        principal = session_principal(request, db)
    if principal is not None and (refused := download_refused(principal)) is not None:
        return refused
    try:
        with session_scope() as db:
            stored = attachments.open_attachment(db, principal=principal, attachment_id=attachment_id)
    except DomainError:
        # Missing, someone else's, or not signed in: the same answer, so nothing is revealed.
        with answer_in_language(request, principal):
            return PlainTextResponse(tr("Not found"), status_code=404, headers={"cache-control": PRIVATE_NO_STORE})
    inline = stored.content_type in attachments.INLINE_TYPES and request.query_params.get("download") != "1"
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(stored.filename)}"
    media = stored.content_type + ("; charset=utf-8" if stored.content_type == "text/plain" else "")
    # FileResponse streams the file in chunks; it is never read into memory whole.
    return FileResponse(stored.path, media_type=media, headers={
        "content-disposition": disposition, "cache-control": PRIVATE_NO_STORE,
        "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    })


routes = [Route("/api/support/attachments/{attachment_id}", download, methods=["GET"])]
