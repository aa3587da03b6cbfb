"""Routes that set and clear the HttpOnly session cookie; no page script ever touches it."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.api.common import (
    answer_in_language,
    clear_session_cookie,
    frontend_url,
    request_info,
    safe_next,
    set_session_cookie,
)
from portal.db import session_scope
from portal.domain import auth
from portal.domain.auth import BINDING_COOKIE
from portal.domain.errors import DomainError
from portal.i18n import tr
from portal.settings import get_settings


def session_from_ticket(request: Request) -> Response:
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


LOGOUT_PATH = "/api/auth/logout"
_CONFIRM_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem">
<h1>{heading}</h1>
<p>{explain}</p>
<form method="post" action="{action}"><button type="submit">{button}</button></form>
<p><a href="/">{stay}</a></p>
</body></html>"""


def _confirm_page(lang: str) -> str:
    """The sign-out confirmation in the current language (`lang`)."""
    return _CONFIRM_PAGE.format(
        lang=lang, action=LOGOUT_PATH, title=html.escape(tr("Sign out")), heading=html.escape(tr("Sign out?")),
        explain=html.escape(tr("You are still signed in. Signing out needs a click here, so no other site can do "
                               "it for you.")),
        button=html.escape(tr("Sign out")), stay=html.escape(tr("Stay signed in")))


def _signed_out(request: Request) -> Response:
    resp = RedirectResponse(frontend_url(request, "/login?signed_out=1"), status_code=303)
    clear_session_cookie(resp, request)
    return resp


def logout(request: Request) -> Response:
    """POST only, behind the origin check (OriginGuard): another site cannot sign anyone out."""
    raw = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        auth.revoke_by_token(db, raw_token=raw, request=request_info(request))
    return _signed_out(request)


def logout_page(request: Request) -> Response:
    """GET never ends a session: a link or an image on any site could send it. A session that has
    already ended (the app revokes it over the websocket first) only has its dead cookie cleared;
    a live one gets a page whose button posts the logout."""
    raw = request.cookies.get(get_settings().session_cookie_name)
    with session_scope() as db:
        principal = auth.resolve_session(db, raw_token=raw)
    if principal is None:
        return _signed_out(request)
    with answer_in_language(request, principal) as lang:
        return HTMLResponse(_confirm_page(lang), headers={"cache-control": "no-store"})


routes = [
    Route("/api/auth/session", session_from_ticket, methods=["GET"]),
    Route(LOGOUT_PATH, logout, methods=["POST"]),
    Route(LOGOUT_PATH, logout_page, methods=["GET"]),
]
