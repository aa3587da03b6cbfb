"""Deny-by-default access control for every websocket event.

Any client can send any event name with any payload, so nothing is trusted from the
browser. Before each event this middleware:
1. resolves the principal from the HttpOnly session cookie of the websocket handshake
   (a database lookup each time, so a revoked session stops working at once);
2. looks up which state class owns the handler and the access level that class declares
   with @access(...); classes that declare nothing are refused;
3. refuses the event (and sends strangers to the login page) when the level is not met;
4. clears every portal state when the identity behind the tab changes, so data loaded for
   one person is never shown to the next one in the same tab.
The principal is then available to the handler through `current_principal()`.
"""

from __future__ import annotations

import contextvars
import logging
from enum import StrEnum
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import reflex as rx
from reflex.middleware import Middleware
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext

from portal import format as fmt
from portal.db import session_scope
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.domain.principal import Principal
from portal.models import Role
from portal.settings import get_settings

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate

log = logging.getLogger(__name__)


class Access(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SIGNED_IN = "signed_in"  # any role
    CUSTOMER = "customer"
    STAFF = "staff"  # agent or admin
    ADMIN = "admin"


_ACCESS: dict[type, Access] = {}
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("portal_principal", default=None)


def access(level: Access) -> Any:
    """Declare who may call the handlers of a state class (inherited by subclasses)."""

    def decorate(cls: type) -> type:
        _ACCESS[cls] = level
        return cls

    return decorate


_MFA_SETUP_EXEMPT: set[type] = set()


def mfa_setup_exempt(cls: type) -> type:
    """Handlers a person may use while their role requires MFA they have not set up yet."""
    _MFA_SETUP_EXEMPT.add(cls)
    return cls


def portal_state_classes() -> list[type]:
    return list(_ACCESS)


def is_allowed(level: Access | None, principal: Principal | None, *, declared: bool = True) -> bool:
    if not declared:
        return False
    if level is None or level == Access.PUBLIC:
        return True
    if principal is None:
        return False
    if level == Access.SIGNED_IN:
        return True
    if level == Access.CUSTOMER:
        return principal.role == Role.CUSTOMER and principal.customer_id is not None
    if level == Access.STAFF:
        return principal.role in (Role.AGENT, Role.ADMIN)
    if level == Access.ADMIN:
        return principal.role == Role.ADMIN
    return False


def current_principal() -> Principal | None:
    return _current.get()


def cookie_value(cookie_header: str, name: str) -> str | None:
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # noqa: BLE001 - a malformed header means "no session"
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def request_info_of(state: BaseState) -> RequestInfo:
    headers = state.router.headers
    return RequestInfo(ip_address=state.router.session.client_ip or "", user_agent=headers.user_agent or "")


def principal_from_state(state: BaseState) -> Principal | None:
    raw = cookie_value(state.router.headers.cookie, get_settings().session_cookie_name)
    if not raw:
        fmt.use_zone(None)
        return None
    with session_scope() as db:
        principal = auth.resolve_session(db, raw_token=raw)
    fmt.use_zone(principal.timezone if principal else None)  # times are shown in their zone
    return principal


# Reflex's own states (hydration, page-load events, client storage, error reports). Named one
# by one: Reflex moves states defined inside functions into `reflex.istate.dynamic`, so
# "comes from a reflex module" would wrongly let such a state through.
REFLEX_INTERNAL_STATES = frozenset({
    "reflex.state.State",
    "reflex.state.OnLoadInternalState",
    "reflex.state.UpdateVarsInternalState",
    "reflex.state.FrontendEventExceptionState",
    "reflex.istate.shared.SharedStateBaseInternal",
})


def declared_access(cls: type) -> tuple[bool, Access | None]:
    """(declared, level) for the class owning a handler; (True, None) for Reflex internals."""
    for klass in cls.__mro__:
        if klass in _ACCESS:
            return True, _ACCESS[klass]
    if f"{cls.__module__}.{cls.__qualname__}" in REFLEX_INTERNAL_STATES:
        return True, None
    return False, None


def _without_nul(value: Any) -> Any:
    """NUL never belongs in text a person typed, and PostgreSQL text columns refuse it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


class AuthGuard(Middleware):
    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        from reflex.state import StateUpdate

        if isinstance(event.payload, dict):
            cleaned = _without_nul(event.payload)
            event.payload.clear()
            event.payload.update(cleaned)

        principal = principal_from_state(state)
        _current.set(principal)
        await _bind_identity(state, principal, rebind_live=event.name in _HYDRATE_EVENTS)

        registered = RegistrationContext.get().event_handlers.get(event.name)
        if registered is None:
            return None  # Reflex answers unknown events itself
        owner = registered.states[0]
        declared, level = declared_access(owner)
        if (principal is not None and principal.mfa_setup_required and level is not None
                and level != Access.PUBLIC and owner not in _MFA_SETUP_EXEMPT):
            return StateUpdate(events=Event.from_event_type(
                rx.redirect("/account/security?setup=mfa", replace=True)))
        if is_allowed(level, principal, declared=declared):
            return None
        log.warning("refused event %s for %s", event.name,
                    f"user {principal.user_id}" if principal else "a stranger")
        if principal is None:
            path = state.router.url.path or "/"
            target = f"/login?next={quote(path)}" if path not in ("/", "/login") else "/login"
        else:
            target = "/"
        return StateUpdate(events=Event.from_event_type(rx.redirect(target, replace=True)))


_HYDRATE_EVENTS = frozenset({
    "reflex___state____state.hydrate", "reflex___state____state.hydrate_and_load",
})


async def _bind_identity(state: BaseState, principal: Principal | None, *, rebind_live: bool) -> None:
    from portal.live.push import bind_token
    from portal.state.session import SessionState

    sess = await state.get_state(SessionState)
    uid = principal.user_id if principal else None
    token = state.router.session.client_token
    if sess._bound_user_id == uid and sess.signed_in == (principal is not None):
        if rebind_live and principal is not None:
            # Each page load and reconnect refreshes this tab's place in the live registry.
            await bind_token(token, user_id=uid, customer_id=principal.customer_id, role=principal.role)
        return
    # A different person (or nobody) now drives this tab: forget everything loaded before.
    for cls in portal_state_classes():
        if cls is SessionState:
            continue
        sub: Any = await state.get_state(cls)
        sub.reset()
    sess._bound_user_id = uid
    sess._apply_principal(principal)
    await bind_token(token, user_id=uid, customer_id=principal.customer_id if principal else None,
                     role=principal.role if principal else "")
