"""The Starlette app that carries our routes; Reflex mounts its own backend inside it."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.api import auth_routes, carrier_webhooks, health, sso_routes, support_files
from portal.settings import get_settings

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # Reflex evaluates scripts it sends over the websocket, hence 'unsafe-eval'; everything
    # else is limited to this origin. Frames and plugins are refused outright.
    (b"content-security-policy", b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
     b"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
     b"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def origin_allowed(origin: str, *, host: str, scheme: str) -> bool:
    """Same origin, the configured public origin and extra origins; any localhost port outside
    production (the development frontend and the test harness serve pages from another port)."""
    origin = origin.strip().lower()
    if not origin or origin == "null":
        return False
    s = get_settings()
    allowed = {_origin_of(s.portal_public_url), f"{scheme}://{host}".lower()}
    allowed |= {_origin_of(o.strip()) for o in s.portal_allowed_origins.split(",") if o.strip()}
    if origin in allowed:
        return True
    if s.portal_env != "production":
        return urlsplit(origin).hostname in ("localhost", "127.0.0.1", "::1")
    return False


class OriginGuard:
    """Refuses websocket handshakes and state-changing requests from other origins.

    Browsers always send Origin on websocket handshakes and cross-site POSTs, so a request
    without one is not a browser acting for someone else (webhooks from carriers and payment
    providers, API clients); those are checked by their own signatures and keys.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            checked = scope["type"] == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS
            if checked and origin is not None:
                scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
                if not origin_allowed(origin, host=headers.get("host", ""), scheme=scheme):
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 4403})
                        return
                    await PlainTextResponse("Cross-origin request refused.", status_code=403)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds conservative security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                if scope.get("scheme") == "https" or get_settings().public_url_is_https:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_api() -> Starlette:
    from portal.simulator import embedded

    # Outside production the carrier simulator's API is mounted too (/_simulator/aftership).
    return Starlette(routes=[
        *auth_routes.routes,
        *health.routes,
        *sso_routes.routes,
        *support_files.routes,
        *carrier_webhooks.routes,
        *embedded.routes(),
    ])
