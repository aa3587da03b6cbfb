"""Ticket attachments, for the people allowed to read them; everyone else gets 404."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from portal.db import session_scope
from portal.domain import attachments, auth
from portal.domain.errors import DomainError
from portal.settings import get_settings


async def download(request: Request) -> Response:
    raw_id = request.path_params.get("attachment_id", "")
    raw = request.cookies.get(get_settings().session_cookie_name)
    try:
        attachment_id = int(raw_id)
        with session_scope() as db:
            principal = auth.resolve_session(db, raw_token=raw) if raw else None
            stored = attachments.open_attachment(db, principal=principal, attachment_id=attachment_id)
    except (ValueError, DomainError):
        # Missing, someone else's, or not signed in: the same answer, so nothing is revealed.
        return PlainTextResponse("Not found", status_code=404, headers={"cache-control": "no-store"})
    inline = stored.content_type in attachments.INLINE_TYPES and request.query_params.get("download") != "1"
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(stored.filename)}"
    media = stored.content_type + ("; charset=utf-8" if stored.content_type == "text/plain" else "")
    # FileResponse streams the file in chunks; it is never read into memory whole.
    return FileResponse(stored.path, media_type=media, headers={
        "content-disposition": disposition, "cache-control": "private, no-store",
        "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    })


routes = [Route("/api/support/attachments/{attachment_id}", download, methods=["GET"])]
