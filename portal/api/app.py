"""The Starlette app that carries our routes; Reflex mounts its own backend inside it."""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.api import (
    auth_routes,
    brand,
    carrier_webhooks,
    files,
    health,
    home_routes,
    order_files,
    payments_webhook,
    sso_routes,
    support_files,
)
from portal.api.v1 import PREFIX as API_V1
from portal.api.v1 import build_v1
from portal.settings import get_settings, trusted_origin

log = logging.getLogger(__name__)

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # No 'unsafe-eval' (tests/browser/test_csp.py): the portal sends no rx.call_script (Reflex runs
    # those with eval()); navigations, the sign-out POST and secrets shown once go through the
    # page's mailbox instead (portal.components.mailbox, assets/portal-actions.js).
    # Everything else is limited to this origin; frames and plugins are refused outright.
    (b"content-security-policy", b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
     b"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
     b"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"),
]
SIMULATOR_PREFIX = "/_simulator/"
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def origin_allowed(origin: str, *, host: str, scheme: str) -> bool:
    """Same origin, the configured public origin and extra origins; any localhost port outside
    production (the development frontend and the test harness serve pages from another port)."""
    if origin.strip().lower() == f"{scheme}://{host}".lower() and host:
        return True
    return trusted_origin(origin)


def socket_origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
    """The websocket's CORS rule (python-engineio calls it with the handshake's environ)."""
    host = str(environ.get("HTTP_HOST", ""))
    scheme = "https" if environ.get("wsgi.url_scheme") in ("https", "wss") else "http"
    return bool(origin) and origin_allowed(str(origin), host=host, scheme=scheme)


class OriginGuard:
    """Refuses websocket handshakes and state-changing requests from other origins.

    Browsers always send Origin on websocket handshakes and cross-site POSTs, so a request
    without one is not a browser acting for someone else (webhooks from carriers and payment
    providers, API clients); those are checked by their own signatures and keys.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and origin_refused(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4403})
                return
            await PlainTextResponse("Cross-origin request refused.", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def origin_refused(scope: Scope) -> bool:
    """OriginGuard's rule: a websocket handshake or a state-changing request whose Origin is not ours."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    checked = scope["type"] == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS
    if not checked or origin is None:
        return False
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return not origin_allowed(origin, host=headers.get("host", ""), scheme=scheme)


class ClientAddress:
    """Makes the connection's client address the real client's, for every route, the websocket
    (Reflex reads it for `router.session.client_ip`) and the per-address throttles.

    X-Forwarded-For is written by whoever sends the request, so it is believed only when the
    connection comes from a configured proxy (PORTAL_TRUSTED_PROXIES), and then read from the
    right: the first address that is not one of those proxies is the client. A client that
    reaches the portal directly is known by its own address, whatever it puts in the header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(real_client(scope), receive, send)


def real_client(scope: Scope) -> Scope:
    """ClientAddress's rule: the scope with the real client's address (itself when nothing changes)."""
    peer = scope.get("client")
    if scope["type"] in ("http", "websocket") and peer and trusted_proxy(peer[0]):
        chain = [part.strip() for part in Headers(scope=scope).get("x-forwarded-for", "").split(",")]
        for hop in reversed(chain):
            if not _is_ip(hop):
                break  # a malformed entry: nothing left of it can be believed
            if not trusted_proxy(hop):
                return {**scope, "client": (hop, 0)}
    return scope


class SocketsDirect:
    """A websocket (Reflex's event socket: the app has no other) goes from here straight to Reflex's
    own backend, under the same two rules as every connection (the real client's address, then the
    origin check), past the layers that only act on HTTP (the request log context, the security
    headers, our routes' Starlette app and its middleware). An open socket keeps a coroutine frame
    alive in each layer it passed for as long as it stays open: about a dozen of them, some 5 KB for
    every connected tab. `tests/api/test_mail_and_origins.py` and the browser suites check both
    rules on the real socket."""

    def __init__(self, app: ASGIApp, sockets: ASGIApp) -> None:
        self.app = app
        self.sockets = sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        scope = real_client(scope)
        if origin_refused(scope):
            await send({"type": "websocket.close", "code": 4403})
            return
        await self.sockets(scope, receive, send)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def trusted_proxy(address: str) -> bool:
    nets = _trusted_networks(get_settings().portal_trusted_proxies)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


@functools.lru_cache(maxsize=4)
def _trusted_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


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


class LoopbackOnly:
    """The simulators' routes (/_simulator/...) answer clients on this machine only: a development
    instance reachable from elsewhere (reflex binds every interface) shows them to nobody else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(SIMULATOR_PREFIX):
            peer = scope.get("client")
            if not peer or not _is_loopback(peer[0]):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class ApiV1Dispatch:
    """Everything under /api/v1 goes to the integration API, whose 404s and 405s are problem
    details too (a Mount would leave paths with a newline to the router's plain-text 404)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.v1 = build_v1()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == API_V1 or path.startswith(API_V1 + "/")):
            await self.v1({**scope, "root_path": scope.get("root_path", "") + API_V1}, receive, send)
            return
        await self.app(scope, receive, send)


def build_api(front_routes: list[Any] | None = None) -> Starlette:
    """Our routes; `front_routes` go first (before Reflex's own, which are mounted behind ours)."""
    from portal.simulator import embedded

    routes = [
        *(front_routes or []),
        *auth_routes.routes,
        *health.routes,
        *brand.routes,
        *sso_routes.routes,
        *support_files.routes,
        *carrier_webhooks.routes,
        *order_files.routes,
        *files.routes,
        *payments_webhook.routes,
        *home_routes.routes,
        # Outside production the carrier simulator's API is mounted too (/_simulator/aftership).
        *embedded.routes(),
    ]
    s = get_settings()
    if s.development_tools:
        # The card-processor simulator (demo and tests): development on loopback only.
        from portal.integrations import payments_simulator

        routes += payments_simulator.routes
        # ...and the Stripe simulator (/_simulator/stripe): Stripe's REST API and hosted checkout.
        from portal.integrations import stripe_simulator

        routes += stripe_simulator.routes
        log.warning("Development tools are on (PORTAL_ENV=%s, public URL %s): the carrier and card simulators "
                    "answer loopback clients under /_simulator, and their public development secrets are "
                    "accepted. Never expose this instance.", s.portal_env, s.portal_public_url)
    else:
        log.info("Simulators and development secrets are off (PORTAL_ENV=%s, public URL %s).",
                 s.portal_env, s.portal_public_url)
    return Starlette(routes=routes, middleware=[Middleware(ApiV1Dispatch), Middleware(LoopbackOnly)])
