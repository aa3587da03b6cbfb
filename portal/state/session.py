"""Who is signed in (for the header), sign-in and sign-out."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import reflex as rx
from reflex_base.event import EventSpec

from portal.db import session_scope
from portal.domain import auth
from portal.domain.errors import DomainError
from portal.domain.principal import Principal
from portal.state.guard import Access, access, current_principal, request_info_of
from portal.state.messages import message_for


def backend_url(state: rx.State, path: str) -> str:
    """Absolute URL of one of our API routes, as reached by this browser.

    The one-port production server serves pages and API together, so a path is enough.
    When pages come from another origin than the websocket (the test harness serves the
    frontend on its own port), the websocket's Host names the backend.
    """
    headers = state.router.headers
    origin = headers.origin or ""
    host = headers.host or ""
    if not origin or not host or urlsplit(origin).netloc == host:
        return path
    return f"{urlsplit(origin).scheme or 'http'}://{host}{path}"


def navigate_to(url: str) -> EventSpec:
    """A full page load (not a client-side route change): the websocket reconnects with
    the new cookie, and the browser follows the API route's redirect."""
    return rx.call_script(f"window.location.replace({json.dumps(url)})")


@access(Access.PUBLIC)
class SessionState(rx.State):
    signed_in: bool = False
    user_name: str = ""
    user_email: str = ""
    role: str = ""
    _bound_user_id: int | None = None

    def _apply_principal(self, principal: Principal | None) -> None:
        self.signed_in = principal is not None
        self.user_name = (principal.name or principal.email) if principal else ""
        self.user_email = principal.email if principal else ""
        self.role = principal.role if principal else ""

    @rx.var
    def initials(self) -> str:
        parts = [p for p in self.user_name.replace("@", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    @rx.var
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    @rx.event
    def logout(self) -> EventSpec:
        principal = current_principal()
        if principal is not None:
            with session_scope() as db:
                auth.end_session(db, principal=principal, request=request_info_of(self))
        return navigate_to(backend_url(self, "/api/auth/logout"))


@access(Access.PUBLIC)
class LoginState(rx.State):
    error: str = ""
    notice: str = ""

    @rx.event
    def on_load(self) -> EventSpec | None:
        self.error = ""
        self.notice = ""
        params = self.router.url.query_parameters
        if params.get("error") == "expired":
            self.error = message_for("token_invalid")
        elif params.get("signed_out"):
            self.notice = "You have been signed out."
        if current_principal() is not None:
            return rx.redirect(_home_for(current_principal()), replace=True)
        return None

    @rx.event
    def submit(self, form_data: dict) -> EventSpec | None:
        email = str(form_data.get("email") or "").strip()[:320]
        password = str(form_data.get("password") or "")[:4096]
        self.notice = ""
        if not email or not password:
            self.error = "Enter your email address and password."
            return None
        req = request_info_of(self)
        with session_scope() as db:
            try:
                user = auth.authenticate(db, email=email, password=password, request=req)
            except DomainError as err:
                # The failed attempt is still committed to the audit trail.
                self.error = message_for(err.code)
                return None
            ticket = auth.issue_login_ticket(db, user=user)
        self.error = ""
        nxt = self.router.url.query_parameters.get("next") or _home_for_role(user.role)
        if not isinstance(nxt, str) or not nxt.startswith("/") or nxt.startswith("//"):
            nxt = _home_for_role(user.role)
        url = backend_url(self, f"/api/auth/session?ticket={quote(ticket)}&next={quote(nxt)}")
        return navigate_to(url)


def _home_for_role(role: str) -> str:
    return "/agent" if role in ("agent", "admin") else "/dashboard"


def _home_for(principal: Principal | None) -> str:
    return _home_for_role(principal.role) if principal else "/login"


@access(Access.PUBLIC)
class IndexState(rx.State):
    @rx.event
    def route(self) -> EventSpec:
        return rx.redirect(_home_for(current_principal()), replace=True)
