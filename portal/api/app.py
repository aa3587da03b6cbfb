"""The Starlette app that carries our routes; Reflex mounts its own backend inside it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.api import auth_routes, files, health, payments_webhook
from portal.settings import get_settings

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


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
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_api() -> Starlette:
    routes = [*auth_routes.routes, *health.routes, *files.routes, *payments_webhook.routes]
    if get_settings().portal_env != "production":
        # The card-processor simulator (demo and tests) never runs in production.
        from portal.integrations import payments_simulator

        routes += payments_simulator.routes
    return Starlette(routes=routes)
