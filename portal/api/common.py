"""Helpers shared by the API routes: who is calling, the session cookie, ids in paths, the
language of the answer, and the headers of private downloads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from portal import format as fmt
from portal.db import session_scope
from portal.domain import auth, throttle
from portal.domain.audit import RequestInfo
from portal.domain.principal import Principal
from portal.i18n import COOKIE, DEFAULT, best_from_accept_language, in_language, language_of, tr
from portal.settings import get_settings

T = TypeVar("T")


def request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        ip_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


def request_language(request: Request, principal: Principal | None = None) -> str:
    """The language to answer in, by the same rules as the pages (portal.state.guard): the
    signed-in person's profile; for anyone else the portal_lang cookie, then Accept-Language."""
    if principal is not None:
        return language_of(principal.locale) or DEFAULT
    return (language_of(request.cookies.get(COOKIE))
            or best_from_accept_language(request.headers.get("accept-language")) or DEFAULT)


@contextlib.contextmanager
def answer_in_language(request: Request, principal: Principal | None = None) -> Iterator[str]:
    """Texts (tr), dates, numbers and money made inside the block in the caller's language (and,
    signed in, their profile's locale); yields the language."""
    lang = request_language(request, principal)
    with in_language(lang):
        if principal is not None and principal.locale:
            fmt.use_locale(principal.locale)  # undone with the block (in_language resets the locale)
        yield lang


def chunks_in_language(lang: str, locale: str, chunks: Iterable[T]) -> Iterator[T]:
    """A streamed body whose chunks are made as the response is sent (after the route returned):
    each one is made in this language and locale too."""
    it = iter(chunks)
    while True:
        with in_language(lang):
            if locale:
                fmt.use_locale(locale)
            try:
                chunk = next(it)
            except StopIteration:
                return
        yield chunk


def session_principal(request: Request, db: Session) -> Principal | None:
    """Who an HTTP request acts for, by the same rules as the websocket guard
    (portal.state.guard): nobody without a live session, and nobody either while the person's
    role requires MFA they have not set up (until then the guard lets them only set it up, so no
    download, export or upload may be had over HTTP instead)."""
    principal = auth.resolve_session(db, raw_token=request.cookies.get(get_settings().session_cookie_name))
    if principal is None or principal.mfa_setup_required:
        return None
    return principal


def download_refused(principal: Principal) -> Response | None:
    """429 (with Retry-After) once this session has fetched its allowance of private downloads
    within the window; counted in a transaction of its own, so a failed download still counts.
    Call it outside any other open session (SQLite has one writer)."""
    with session_scope() as db:
        allowed = throttle.take(db, f"rate:downloads:{principal.session_id or principal.user_id}", throttle.DOWNLOADS)
    if allowed:
        return None
    wait = int(throttle.DOWNLOADS.window.total_seconds())
    with in_language(principal.locale):
        text = tr("Too many downloads in a short time. Try again in {seconds} seconds.", seconds=wait)
    return PlainTextResponse(text, status_code=429,
                             headers={"retry-after": str(wait), "cache-control": PRIVATE_NO_STORE})


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_url_is_https


def set_session_cookie(response: Response, request: Request, raw_token: str) -> None:
    s = get_settings()
    # HttpOnly: scripts in the page never see it. Lax: sent on top-level navigations
    # (links from mail, SSO redirects) but not on cross-site subrequests or posts.
    response.set_cookie(
        s.session_cookie_name, raw_token, max_age=s.session_absolute_hours * 3600,
        path="/", httponly=True, secure=is_https(request), samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(get_settings().session_cookie_name, path="/", httponly=True,
                           secure=is_https(request), samesite="lax")


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site relative paths: never an open redirect."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def frontend_url(request: Request, path: str) -> str:
    """Where to send the browser after an API route: the page it came from (same site).

    In the one-port production server this is just the path. When the frontend is served
    from another port (test harness), the Referer/Origin of the request names it.
    """
    origin = request.headers.get("origin") or ""
    referer = request.headers.get("referer") or ""
    src = origin or referer
    if src:
        parts = urlsplit(src)
        if parts.hostname == request.url.hostname and parts.port != request.url.port:
            return f"{parts.scheme}://{parts.netloc}{path}"
    return path


# Row ids are INTEGER columns: 32-bit on PostgreSQL. A larger number names nothing, and binding
# it to a query would fail inside the driver (OverflowError on SQLite, DataError on PostgreSQL).
MAX_ID = 2**31 - 1
# Private downloads (invoices, receipts, statements, CSVs, documents, attachments, labels, the data
# export): never stored by the browser or any shared cache, not even for revalidation.
PRIVATE_NO_STORE = "private, no-store"


class BadPathId(ValueError):
    """A path parameter that should be a row id is not one (answer 400, naming the parameter)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} must be a whole number from 1 to {MAX_ID}.")

    def response(self) -> Response:
        return PlainTextResponse(str(self), status_code=400, headers={"cache-control": PRIVATE_NO_STORE})


def path_id(request: Request, name: str) -> int:
    """The row id in path parameter `name`, or BadPathId: digits only, 1 to MAX_ID."""
    raw = str(request.path_params.get(name, ""))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID))) or not 1 <= int(raw) <= MAX_ID:
        raise BadPathId(name)
    return int(raw)
