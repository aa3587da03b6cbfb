"""The front door of Reflex's upload endpoint (POST /_upload), registered before Reflex's own.

Reflex runs an upload's handler in the state of the tab named by the `reflex-client-token`
header, as whoever that tab belongs to, and parses the multipart body (into temporary files)
before anything else. A client token is no secret (it rides in the websocket URL), so on its own
it must not let anyone act in that tab. Before a single byte of the body is read this route:
1. resolves the request's own session cookie (`session_principal`: the guard's rules), and
   refuses (403) a stranger, a person whose role requires MFA they have not set up, and anyone
   the handler's declared access does not admit;
2. refuses (403) unless the tab named by the token is bound to that same person;
3. refuses (411/413) a body without a declared length or longer than the largest upload any
   handler accepts.
Only then does Reflex's own endpoint read the body (stopped at the declared length) and run the
handler, where the tab's guard checks the event once more.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx
from reflex_base.registry import RegistrationContext
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from portal.api.common import session_principal
from portal.db import session_scope
from portal.domain.principal import Principal
from portal.live import runtime
from portal.live.push import runtime as live
from portal.settings import get_settings
from portal.state.guard import declared_access, is_allowed

log = logging.getLogger(__name__)
UPLOAD_PATH = "/_upload"
# Room for the multipart boundaries, part headers and the handler's bound arguments.
MULTIPART_OVERHEAD = 256 * 1024


def request_limit() -> int:
    """The largest body any upload handler accepts: the support form's attachments together."""
    s = get_settings()
    return max(s.upload_max_bytes, s.support_attachment_max_bytes * s.support_attachments_per_message) \
        + MULTIPART_OVERHEAD


def _refused(text: str, status: int = 403) -> Response:
    return PlainTextResponse(text, status_code=status, headers={"cache-control": "no-store"})


def _resolve(request: Request) -> Principal | None:
    with session_scope() as db:
        return session_principal(request, db)  # no one, also while MFA setup is pending


async def _tab_owner(token: str) -> int | None:
    """Who the tab named by `token` is bound to (None: nobody, or no such tab)."""
    from reflex.istate.manager.token import BaseStateToken

    from portal.state.session import SessionState

    app: Any = live.app
    if app is None:
        return None
    # Under the tab's lock, not a plain read: with several workers the worker that serves the tab
    # may keep its state in memory under a lease (rxconfig.py), and Redis then holds an older copy
    # (a tab that signed in a moment ago would read as nobody's). Asking for the lock makes that
    # worker write its copy and let go first.
    async with app.state_manager.modify_state(BaseStateToken(ident=token, cls=SessionState)) as root:
        sub: Any = await root.get_state(SessionState)
        return sub._bound_user_id if sub.signed_in else None


def _capped(request: Request, declared: int) -> Any:
    """The request's receive, refusing to pass on more than the declared length."""
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > declared:
                raise BodyLongerThanDeclared
        return message

    return receive


class BodyLongerThanDeclared(Exception):
    pass


async def upload(request: Request) -> Response:
    token = request.headers.get("reflex-client-token", "")
    handler = request.headers.get("reflex-event-handler", "")
    registered = RegistrationContext.get().event_handlers.get(handler) if handler else None
    if not token or registered is None:
        return _refused("Unknown upload.", 400)
    principal = await runtime.offload(_resolve, request)
    declared_ok, level = declared_access(registered.states[0])
    if principal is None or not is_allowed(level, principal, declared=declared_ok):
        return _refused("Sign in to upload files.")
    if await _tab_owner(token) != principal.user_id:
        # Someone else's tab (a token read from a log or a shared screen): never act in it.
        log.warning("refused an upload by user %s into a tab that is not theirs", principal.user_id)
        return _refused("This upload does not belong to your session.")
    length = request.headers.get("content-length", "").strip()
    if not length.isdigit():
        return _refused("Uploads must declare their length.", 411)
    if int(length) > request_limit():
        return _refused(f"The upload is larger than {request_limit() // (1024 * 1024)} MB.", 413)
    from reflex_components_core.core._upload import upload as reflex_upload

    try:
        return await reflex_upload(live.app)(Request(request.scope, _capped(request, int(length))))
    except BodyLongerThanDeclared:
        return _refused("The upload is longer than it declared.", 400)


routes = [Route(UPLOAD_PATH, upload, methods=["POST"])]

# Reflex's upload helper posts with an XMLHttpRequest that leaves withCredentials off, so when
# pages come from another origin than the backend (`reflex run` in development, the test
# harness) the browser would send the upload without the session cookie this door requires. The
# one-port production server is same-origin and sends it anyway. Added to every page's head.
CREDENTIALS_SCRIPT = """(() => {
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    open.call(this, method, url, ...rest);
    try {
      if (new URL(url, window.location.href).pathname.endsWith("/_upload")) this.withCredentials = true;
    } catch (e) { /* not a URL: leave the request as it is */ }
  };
})();"""


def send_cookie_with_uploads() -> rx.Component:
    return rx.script(CREDENTIALS_SCRIPT)
