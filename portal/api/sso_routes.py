"""Single sign-on routes: start the OpenID Connect flow, and take the provider's answer.

The flow's secrets (state, nonce, PKCE verifier) and where to go afterwards travel in a
short-lived, HMAC-signed, HttpOnly, SameSite=Lax cookie scoped to these routes. It is
cleared at the callback, and the state is recorded as used, so a callback works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.api.common import (
    answer_in_language,
    frontend_url,
    is_https,
    request_info,
    safe_next,
    set_session_cookie,
)
from portal.db import session_scope
from portal.domain import auth, sso
from portal.domain.errors import DomainError, ErrorCode
from portal.i18n import tr
from portal.integrations.oidc import OidcClient, OidcConfig, OidcError
from portal.settings import Settings, get_settings

log = logging.getLogger(__name__)

FLOW_COOKIE = "portal_sso_flow"
_COOKIE_PATH = "/api/auth/sso"
LINK_DONE_PATH = "/account/security"

_clients: dict[OidcConfig, OidcClient] = {}
_clients_lock = threading.Lock()


def _client_for(settings: Settings) -> OidcClient:
    """One client (and so one httpx pool, one key cache) per configured provider."""
    cfg = OidcConfig(discovery_url=settings.oidc_discovery_url, client_id=settings.oidc_client_id,
                     client_secret=settings.oidc_client_secret, redirect_uri=settings.sso_callback_url,
                     scope=settings.oidc_scopes)
    with _clients_lock:
        client = _clients.get(cfg)
        if client is None:
            client = _clients[cfg] = OidcClient(cfg)
        return client


# -- the signed flow cookie ---------------------------------------------------------------

def _flow_key() -> bytes:
    # A key of its own, derived from the portal secret, so a signature made here means
    # nothing anywhere else.
    return hmac.new(get_settings().portal_secret_key.encode(), b"portal.sso.flow.v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_flow(data: dict[str, Any]) -> str:
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_flow_key(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def open_flow(value: str | None, *, now: float | None = None) -> dict[str, Any] | None:
    """The flow's data if the cookie is ours, untampered and unexpired; otherwise None."""
    if not value or value.count(".") != 1 or len(value) > 4096:
        return None
    body, sig = value.split(".")
    expected = _b64(hmac.new(_flow_key(), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(sig, expected):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        return None
    if data["exp"] < (now if now is not None else time.time()):
        return None
    return data


def _clear_flow(resp: Response, request: Request) -> Response:
    resp.delete_cookie(FLOW_COOKIE, path=_COOKIE_PATH, httponly=True, secure=is_https(request), samesite="lax")
    return resp


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _home_for_role(role: str) -> str:
    return "/agent" if role in ("agent", "admin") else "/dashboard"


def _with_param(path: str, param: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{param}"


# -- routes -------------------------------------------------------------------------------

def sso_start(request: Request) -> Response:
    settings = get_settings()
    if not settings.sso_enabled:
        with answer_in_language(request):
            return Response(tr("Single sign-on is not configured."), status_code=404)
    base = frontend_url(request, "")
    nxt = safe_next(request.query_params.get("next"), "")
    link_user: int | None = None
    if request.query_params.get("link") == "1":
        # Linking is only ever for the person already signed in here, and is bound to them.
        # Another site must not start it (with the browser perhaps signed in at the provider
        # as someone else): browsers say where a navigation came from.
        if request.headers.get("sec-fetch-site") == "cross-site":
            return _redirect(f"{base}{LINK_DONE_PATH}?sso=refused")
        with session_scope() as db:
            principal = auth.resolve_session(db, raw_token=request.cookies.get(settings.session_cookie_name))
        if principal is None:
            back = quote(nxt or LINK_DONE_PATH, safe="")
            return _redirect(f"{base}/login?next={back}")
        link_user = principal.user_id
    try:
        # When linking, the person must sign in at the provider now, not ride an old session.
        auth_req = _client_for(settings).authorization_request(force_login=link_user is not None)
    except OidcError as err:
        log.warning("SSO start failed: %s", err)
        return _redirect(f"{base}/login?error=sso_unavailable")
    flow = {"state": auth_req.state, "nonce": auth_req.nonce, "verifier": auth_req.code_verifier,
            "next": nxt, "base": base, "link": link_user,
            "exp": int(time.time()) + settings.oidc_flow_seconds}
    resp = _redirect(auth_req.url)
    resp.set_cookie(FLOW_COOKIE, seal_flow(flow), max_age=settings.oidc_flow_seconds, path=_COOKIE_PATH,
                    httponly=True, secure=is_https(request), samesite="lax")
    return resp


def sso_callback(request: Request) -> Response:
    settings = get_settings()
    req = request_info(request)
    flow = open_flow(request.cookies.get(FLOW_COOKIE))
    base = flow["base"] if flow and isinstance(flow.get("base"), str) else ""

    def fail(reason: str, error: str = "sso_failed", user_id: int | None = None) -> Response:
        # Every refusal: no session, an audited failed login, the flow cookie gone.
        with session_scope() as db:
            sso.flow_rejected(db, reason=reason, request=req, user_id=user_id)
        log.info("SSO callback refused: %s", reason)
        return _clear_flow(_redirect(f"{base}/login?error={error}"), request)

    if not settings.sso_enabled:
        with answer_in_language(request):
            return Response(tr("Single sign-on is not configured."), status_code=404)
    if flow is None:
        return fail("no_flow")
    if request.query_params.get("error"):
        return fail("provider_error:" + request.query_params.get("error", "")[:40], "sso_cancelled")
    state = request.query_params.get("state", "")
    code = request.query_params.get("code", "")
    if not state or not hmac.compare_digest(state.encode(), str(flow.get("state", "")).encode()):
        return fail("state_mismatch")
    if not code or len(code) > 2048:
        return fail("no_code")
    client = _client_for(settings)
    try:
        issuer = client.metadata().issuer
    except OidcError as err:
        return fail(err.reason, "sso_unavailable")
    # RFC 9207: when the provider names itself in the response, it must be the one we asked.
    iss_param = request.query_params.get("iss")
    if iss_param is not None and iss_param != issuer:
        return fail("wrong_issuer")
    try:
        with session_scope() as db:
            sso.consume_flow(db, state=state, expires_at=datetime.fromtimestamp(int(flow["exp"]), UTC))
    except DomainError:
        return fail("replayed_callback")
    except IntegrityError:  # a concurrent twin of this callback won the insert
        return fail("replayed_callback")
    try:
        ident = client.complete(code=code, code_verifier=str(flow["verifier"]),
                                        nonce=str(flow["nonce"]))
    except OidcError as err:
        return fail(err.reason)

    nxt = safe_next(flow.get("next") if isinstance(flow.get("next"), str) else None, "")
    link_user = flow.get("link")
    if isinstance(link_user, int):
        with session_scope() as db:
            principal = auth.resolve_session(db, raw_token=request.cookies.get(settings.session_cookie_name))
            if principal is None or principal.user_id != link_user:
                # Signed out (or became someone else) while at the provider: link nothing.
                sso.flow_rejected(db, reason="link_without_session", request=req, user_id=link_user)
                return _clear_flow(_redirect(f"{base}/login?error=sso_failed"), request)
            try:
                sso.link_identity(db, principal=principal, issuer=ident.issuer, subject=ident.subject,
                                  email=ident.email, request=req)
                result = "linked"
            except DomainError as err:
                if err.code != ErrorCode.CONFLICT:
                    raise
                result = "conflict"
        return _clear_flow(_redirect(f"{base}{_with_param(nxt or LINK_DONE_PATH, 'sso=' + result)}"), request)

    with session_scope() as db:
        try:
            outcome = sso.sign_in(db, issuer=ident.issuer, subject=ident.subject, request=req)
        except DomainError as err:
            # Caught inside the unit of work so the failed attempt stays in the audit trail.
            error = "sso_unlinked" if err.detail == "sso_unlinked" else "sso_failed"
            return _clear_flow(_redirect(f"{base}/login?error={error}"), request)
    if outcome.mfa_token is not None:
        return _clear_flow(_redirect(f"{base}/login?mfa={quote(outcome.mfa_token)}"), request)
    assert outcome.session is not None
    resp = _redirect(f"{base}{nxt or _home_for_role(outcome.role)}")
    set_session_cookie(resp, request, outcome.session.raw_token)
    return _clear_flow(resp, request)


routes = [
    Route("/api/auth/sso/start", sso_start, methods=["GET"]),
    Route("/api/auth/sso/callback", sso_callback, methods=["GET"]),
]
