"""Routes that set and clear the HttpOnly session cookie; no page script ever touches it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.api.common import clear_session_cookie, frontend_url, request_info, safe_next, set_session_cookie
from portal.db import session_scope
from portal.domain import auth
from portal.domain.auth import BINDING_COOKIE
from portal.domain.errors import DomainError
from portal.settings import get_settings


async def session_from_ticket(request: Request) -> Response:
    ticket = request.query_params.get("ticket", "")
    nxt = safe_next(request.query_params.get("next"), "/dashboard")
    binding = request.cookies.get(BINDING_COOKIE, "")
    try:
        with session_scope() as db:
            new = auth.redeem_login_ticket(db, ticket=ticket, request=request_info(request), binding=binding)
    except DomainError:
        resp = RedirectResponse(frontend_url(request, "/login?error=expired"), status_code=303)
        resp.delete_cookie(BINDING_COOKIE, path="/")
        return resp
    resp = RedirectResponse(frontend_url(request, nxt), status_code=303)
    set_session_cookie(resp, request, new.raw_token)
    resp.delete_cookie(BINDING_COOKIE, path="/")
    return resp


async def logout(request: Request) -> Response:
    raw = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        auth.revoke_by_token(db, raw_token=raw, request=request_info(request))
    resp = RedirectResponse(frontend_url(request, "/login?signed_out=1"), status_code=303)
    clear_session_cookie(resp, request)
    return resp


routes = [
    Route("/api/auth/session", session_from_ticket, methods=["GET"]),
    Route("/api/auth/logout", logout, methods=["GET", "POST"]),
]
