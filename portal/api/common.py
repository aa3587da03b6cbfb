"""Helpers shared by the API routes: who is calling, and the session cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from portal.domain.audit import RequestInfo
from portal.settings import get_settings


def request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        ip_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


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
