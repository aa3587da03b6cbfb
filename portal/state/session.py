"""Who is signed in (for the header), sign-in and sign-out."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlsplit

import reflex as rx
from reflex.state import OnLoadInternalState
from reflex_base.event import EventHandler, EventSpec

from portal import format as fmt
from portal import i18n
from portal.components import mailbox
from portal.db import session_scope
from portal.domain import auth, mfa, profile
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent, Topic
from portal.domain.principal import Principal
from portal.i18n import N_, tr
from portal.live.push import listens
from portal.models import User
from portal.settings import get_settings
from portal.state import tab
from portal.state.base import PortalState, on_loop
from portal.state.guard import Access, access, current_principal, mfa_setup_exempt, request_info_of
from portal.state.messages import message_for


def backend_url(state: rx.State, path: str) -> str:
    """Absolute URL of one of our API routes, as reached by this browser.

    The one-port production server serves pages and API together, so a path is enough.
    When pages come from another origin than the websocket (the test harness serves the
    frontend on its own port), the websocket's Host names the backend.
    """
    headers = tab.headers(state)
    origin = headers.origin or ""
    host = headers.host or ""
    if not origin or not host or urlsplit(origin).netloc == host:
        return path
    return f"{urlsplit(origin).scheme or 'http'}://{host}{path}"


def server_url(state: rx.State) -> str:
    """This portal's backend as an absolute address, as this browser reached it (the bundled payment
    simulators are served there, and the server calls them there)."""
    found = backend_url(state, "")
    if found:
        return found
    origin = urlsplit(tab.headers(state).origin or "")
    host = tab.headers(state).host or ""
    return f"{origin.scheme or 'http'}://{host}" if host else get_settings().portal_public_url.rstrip("/")


def browser_origin(state: rx.State) -> str:
    """The origin this browser shows the portal at (where a payment provider sends it back)."""
    parts = urlsplit(tab.headers(state).origin or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return get_settings().portal_public_url.rstrip("/")


def post_to(url: str) -> EventSpec:
    """A full page load by a same-origin form POST (logout is a POST: a link or an image on
    another site cannot sign anyone out). Sent through the page's mailbox (no eval)."""
    return mailbox.send({"post": url})


def navigate_to(url: str, *, binding: str = "") -> EventSpec:
    """A full page load (not a client-side route change): the websocket reconnects with
    the new cookie, and the browser follows the API route's redirect. With `binding`, the
    browser first stores the value the login ticket is bound to, for a minute (the cookie
    named by the mailbox, BINDING_COOKIE). The URL goes through the page's mailbox, never into state."""
    return mailbox.send({"go": url, "binding": binding} if binding else {"go": url})


@mfa_setup_exempt
@access(Access.PUBLIC)
@listens(Topic.PROFILE, in_shell=True)
class SessionState(PortalState, rx.State):
    # The live push refreshes loaded states only; the header is there on every page.
    loaded: bool = True
    signed_in: bool = False
    user_name: str = ""
    user_email: str = ""
    role: str = ""
    _bound_user_id: int | None = None
    # The tab's principal, kept server-side by the guard (portal.state.guard.tab_principal):
    # the digest of the cookie it was resolved from, the identity epochs seen then, and when
    # to look again at the latest.
    _principal: Any = None
    _cookie: str = ""
    _epochs: tuple[int, ...] = ()
    _recheck_at: float = 0.0
    # The last look was a live push's (it does not count as using the session).
    _use_unrecorded: bool = False
    # The listening states this tab shows now (portal.live.push), and on which page.
    _screen: frozenset[str] = frozenset()
    _screen_page: str = ""
    # The language the tab shows (portal.i18n): the person's profile, else what was chosen in this
    # tab, the portal_lang cookie, the browser's Accept-Language. Set by the guard for each event.
    lang: str = ""
    _chosen_lang: str = ""
    # The browser keeps the choice (and a signed-in person's language) for its next visit.
    lang_cookie: str = rx.Cookie("", name=i18n.COOKIE, path="/", max_age=400 * 86400, same_site="lax")

    def _apply_principal(self, principal: Principal | None) -> None:
        self.signed_in = principal is not None
        self.user_name = (principal.name or principal.email) if principal else ""
        self.user_email = principal.email if principal else ""
        self.role = principal.role if principal else ""

    def _live(self, batch: list[DomainEvent]) -> None:
        """A profile change (in this tab or another of the same person): the header shows the
        name the tab's principal, resolved again since the change, now carries."""
        principal = current_principal()
        if principal is not None and principal.user_id == self._bound_user_id:
            self._apply_principal(principal)

    @rx.var
    def initials(self) -> str:
        parts = [p for p in self.user_name.replace("@", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    @rx.var
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    @rx.event
    def set_language(self, code: str) -> EventHandler | None:
        """The language menu: this tab (and this browser's next visits) in `code`; a signed-in
        person's profile keeps it for every device."""
        lang = i18n.language_of(code if isinstance(code, str) else "")
        if lang is None:
            return None
        principal = current_principal()
        if principal is not None and i18n.language_of(principal.locale) != lang:
            with session_scope() as db:
                profile.set_language(db, principal=principal, lang=lang, request=request_info_of(self))
        self._chosen_lang = lang
        self.lang = lang
        self.lang_cookie = lang
        i18n.use_language(lang)
        fmt.use_locale(lang)
        if _reloads_on_language(tab.path(self) or ""):
            # Its texts come from the server (a translated article, category names): the page's
            # load runs again, in the new language.
            return OnLoadInternalState.on_load_internal
        return None

    @rx.event
    def logout(self) -> EventSpec:
        principal = current_principal()
        if principal is not None:
            with session_scope() as db:
                auth.end_session(db, principal=principal, request=request_info_of(self))
        return post_to(backend_url(self, "/api/auth/logout"))


def _reloads_on_language(path: str) -> bool:
    """Pages that show texts made on the server in the reader's language and hold nothing typed
    that a new load would lose: the help center's (articles and categories are data, translated
    per article)."""
    path = path.rstrip("/")
    return path == "/help" or path.startswith("/help/")


@access(Access.PUBLIC)
class LoginState(PortalState, rx.State):
    error: str = ""
    notice: str = ""
    # "password", then "mfa" when the account has two-factor authentication.
    step: str = "password"
    use_recovery: bool = False
    registration_open: bool = False
    # Server-side only: whose first factor passed, how, and until when the second may follow.
    _pending_user_id: int | None = None
    _pending_method: str = "password"
    _pending_until: float = 0.0
    _next: str = ""

    def _clear_pending(self) -> None:
        self._pending_user_id = None
        self._pending_until = 0.0
        self.step = "password"
        self.use_recovery = False

    @rx.event
    def on_load(self) -> EventSpec | None:
        self.error = ""
        self.notice = ""
        self._clear_pending()
        params = tab.query_parameters(self)
        nxt = params.get("next") or ""
        self._next = nxt if nxt.startswith("/") and not nxt.startswith("//") else ""
        self.registration_open = get_settings().registration_enabled
        if current_principal() is not None:
            return rx.redirect(_home_for(current_principal()), replace=True)
        notices = {"signed_out": tr("You have been signed out."), "reset": tr("Your password was changed. Sign in "
                   "with your new password."), "verified": tr("Your email address is confirmed. You can sign in now."),
                   "registered": tr("Check your inbox: we sent you a link to confirm your email address."),
                   "closed": tr("Your account is closed and you were signed out everywhere. Thank you for having "
                                "been with us; we keep only what the law requires.")}
        for key, text in notices.items():
            if params.get(key):
                self.notice = text
        errors = {"expired": message_for("token_invalid"),
                  "sso_unlinked": tr("That single sign-on account is not linked to an account here yet. Sign in "
                                     "with your password, then link it under Security."),
                  "sso_failed": tr("Single sign-on did not complete. Please try again.")}
        if params.get("error") in errors:
            self.error = errors[params["error"]]
        token = params.get("mfa") or ""
        if token:
            with session_scope() as db:
                found = auth.peek_mfa_pending(db, token=token[:200])
                if found is None:
                    self.error = message_for("token_invalid")
                    return None
                user, method = found
                auth.consume_mfa_pending(db, token=token[:200])
            self._pending_user_id = user.id
            self._pending_method = method
            self._pending_until = time.time() + 300
            self.step = "mfa"
        return None

    @rx.event
    def submit(self, form_data: dict) -> EventSpec | None:
        email = str(form_data.get("email") or "").strip()[:320]
        password = str(form_data.get("password") or "")[:4096]
        self.notice = ""
        if not email or not password:
            self.error = tr("Enter your email address and password.")
            return None
        req = request_info_of(self)
        with session_scope() as db:
            try:
                user = auth.authenticate(db, email=email, password=password, request=req)
            except DomainError as err:
                # The failed attempt is still committed to the audit trail and the throttle.
                self.error = tr(_LOGIN_REFUSALS.get(err.detail or "", "")) or message_for(err.code)
                return None
            if user.mfa_enabled:
                self.error = ""
                self._pending_user_id = user.id
                self._pending_method = "password"
                self._pending_until = time.time() + 300
                self.step = "mfa"
                return None
            binding = auth.new_token()
            ticket = auth.issue_login_ticket(db, user=user, binding=binding)
            role = user.role
        self.error = ""
        return self._go(ticket, role, binding)

    @rx.event
    def submit_code(self, form_data: dict) -> EventSpec | None:
        code = str(form_data.get("code") or "").strip()[:64]
        if self._pending_user_id is None or time.time() > self._pending_until:
            self._clear_pending()
            self.error = tr("That took too long. Please sign in again.")
            return None
        if not code:
            self.error = tr("Enter the code.") if not self.use_recovery else tr("Enter one of your recovery codes.")
            return None
        req = request_info_of(self)
        with session_scope() as db:
            user = db.get(User, self._pending_user_id)
            if user is None or not user.is_active:
                self._clear_pending()
                self.error = message_for("auth_failed")
                return None
            try:
                ok = (mfa.use_recovery_code(db, user=user, code=code, request=req) if self.use_recovery
                      else mfa.check_code(db, user=user, code=code, request=req))
            except DomainError as err:
                self.error = message_for(err.code)
                return None
            if not ok:
                self.error = (tr("That recovery code is not valid or was already used.") if self.use_recovery
                              else tr("That code did not match. Enter the newest code from your app."))
                return None
            binding = auth.new_token()
            ticket = auth.issue_login_ticket(db, user=user, auth_method=self._pending_method, mfa_verified=True,
                                             binding=binding)
            role = user.role
        self._clear_pending()
        self.error = ""
        return self._go(ticket, role, binding)

    @rx.event
    @on_loop
    def toggle_recovery(self) -> None:
        self.use_recovery = not self.use_recovery
        self.error = ""

    @rx.event
    def cancel_mfa(self) -> None:
        self._clear_pending()
        self.error = ""

    def _go(self, ticket: str, role: str, binding: str) -> EventSpec:
        nxt = self._next or _home_for_role(role)
        url = backend_url(self, f"/api/auth/session?ticket={quote(ticket)}&next={quote(nxt)}")
        return navigate_to(url, binding=binding)


_UNVERIFIED = N_("Please confirm your email address first: use the link we sent you when you registered.")
_CLOSED = N_("This account was closed, so it can no longer be used to sign in. If you closed it by mistake or "
             "need something from it, contact us and we will help.")
_LOGIN_REFUSALS = {"email_unverified": _UNVERIFIED, "account_closed": _CLOSED}


def _home_for_role(role: str) -> str:
    return "/agent" if role in ("agent", "admin") else "/dashboard"


def _home_for(principal: Principal | None) -> str:
    return _home_for_role(principal.role) if principal else "/login"


@access(Access.PUBLIC)
class IndexState(PortalState, rx.State):
    @rx.event
    def route(self) -> EventSpec:
        return rx.redirect(_home_for(current_principal()), replace=True)
