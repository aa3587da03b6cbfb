"""Authorised downloads: billing PDFs, statement, payment CSV and customer documents.

Every route resolves the session cookie, asks the domain for the caller's own object and
streams it. Someone else's id, a missing one and a staff account all get the same 404, and the
attempt is written to the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from portal.api.common import (
    PRIVATE_NO_STORE,
    BadPathId,
    answer_in_language,
    chunks_in_language,
    download_refused,
    path_id,
    request_info,
    request_language,
    session_principal,
)
from portal.db import session_scope
from portal.domain import audit, billing_files, documents
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.principal import Principal
from portal.i18n import tr

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
T = TypeVar("T")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _headers(filename: str, etag: str = "", length: int | None = None) -> dict[str, str]:
    headers = {"Content-Disposition": content_disposition(filename), "Cache-Control": PRIVATE_NO_STORE}
    if etag:
        headers["ETag"] = f'"{etag}"'
    if length is not None:
        headers["Content-Length"] = str(length)
    return headers


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            yield block


def _not_found() -> Response:
    return PlainTextResponse(tr("Not found"), status_code=404)


def _serve(request: Request, target_type: str, target_id: str | int,
           load: Callable[[Session, Principal], T]) -> T | Response:
    """Run `load` for the signed-in customer, in their language (a document and its texts, an
    error); answer 401/404 (and audit the denial) otherwise."""
    with session_scope() as db:
        principal = session_principal(request, db)
    if principal is None:
        with answer_in_language(request):
            return PlainTextResponse(tr("Sign in to download this file."), status_code=401)
    if (refused := download_refused(principal)) is not None:
        return refused
    with answer_in_language(request, principal):
        try:
            with session_scope() as db:
                return load(db, principal)
        except DomainError as err:
            if err.code == ErrorCode.INVALID:
                # The domain's message was made above, in this language.
                return PlainTextResponse(err.detail or tr("Invalid request"), status_code=400)
            if err.code not in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN):
                raise
        # Someone asked for a file that is not theirs (or not there): same answer, and it is recorded.
        with session_scope() as db:
            audit.access_denied(db, principal=principal, target_type=target_type, target_id=target_id,
                                request=request_info(request))
        return _not_found()


def _stream(out: billing_files.FileOut | Response) -> Response:
    if isinstance(out, Response):
        return out
    return StreamingResponse(_chunks(out.data), media_type=out.content_type,
                             headers=_headers(out.filename, out.etag, len(out.data)))


def invoice_pdf(request: Request) -> Response:
    try:
        invoice_id = path_id(request, "invoice_id")
    except BadPathId as bad:
        return bad.response()
    return _stream(_serve(request, "invoice", invoice_id, lambda db, p: billing_files.invoice_pdf(
        db, principal=p, invoice_id=invoice_id)))


def receipt_pdf(request: Request) -> Response:
    try:
        payment_id = path_id(request, "payment_id")
    except BadPathId as bad:
        return bad.response()
    return _stream(_serve(request, "payment", payment_id, lambda db, p: billing_files.receipt_pdf(
        db, principal=p, payment_id=payment_id)))


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def statement_pdf(request: Request) -> Response:
    start, end = _date_param(request, "from"), _date_param(request, "to")
    if start is None or end is None:
        with answer_in_language(request):
            return PlainTextResponse(tr("Give the period as ?from=YYYY-MM-DD&to=YYYY-MM-DD"), status_code=400)
    return _stream(_serve(request, "statement", "", lambda db, p: billing_files.statement_pdf(
        db, principal=p, date_from=start, date_to=end)))


def payments_csv(request: Request) -> Response:
    start, end = _date_param(request, "from"), _date_param(request, "to")
    caller: list[Principal] = []

    def load(db: Session, p: Principal) -> Iterator[str]:
        caller.append(p)
        return billing_files.payment_history_csv(db, principal=p, date_from=start, date_to=end)

    out = _serve(request, "payments_csv", "", load)
    if isinstance(out, Response):
        return out
    # The rows are read; the text (its header too) is made as it streams, in the caller's language.
    lang = request_language(request, caller[0])
    locale = caller[0].locale
    return StreamingResponse((chunk.encode() for chunk in chunks_in_language(lang, locale, out)),
                             media_type="text/csv; charset=utf-8", headers=_headers("payment-history.csv"))


def document_file(request: Request) -> Response:
    try:
        document_id = path_id(request, "document_id")
    except BadPathId as bad:
        return bad.response()
    out = _serve(request, "document", document_id, lambda db, p: documents.open_document(
        db, principal=p, document_id=document_id))
    if isinstance(out, Response):
        return out
    return StreamingResponse(_file_chunks(out.path), media_type=out.content_type,
                             headers=_headers(out.filename, length=out.size_bytes))


routes = [
    Route("/api/files/invoices/{invoice_id}.pdf", invoice_pdf, methods=["GET"]),
    Route("/api/files/receipts/{payment_id}.pdf", receipt_pdf, methods=["GET"]),
    Route("/api/files/statement.pdf", statement_pdf, methods=["GET"]),
    Route("/api/files/payments.csv", payments_csv, methods=["GET"]),
    Route("/api/files/documents/{document_id}", document_file, methods=["GET"]),
]
