"""Deny-by-default access control for every websocket event.

Any client can send any event name with any payload, so nothing is trusted from the
browser. Before each event this middleware:
1. finds the principal of the tab from the HttpOnly session cookie of the websocket handshake.
   It is resolved from the database once and kept server-side for the tab (SessionState's
   backend vars); each event then only compares the tab's identity epochs
   (``portal.live.runtime``), which every committed change to the user, their sessions or the
   MFA policy moves, on every worker. When one moved, when the cookie differs, or when the
   session's idle or absolute deadline (or a minute) has passed, the session is resolved again
   (in the worker pool), so logout, ended sessions, password/MFA/role changes and closure stop
   every open tab at its next event;
2. looks up which state class owns the handler and the access level that class declares
   with @access(...); classes that declare nothing are refused;
3. refuses the event (and sends strangers to the login page) when the level is not met;
4. clears every portal state when the identity behind the tab changes, so data loaded for
   one person is never shown to the next one in the same tab.
The principal is then available to the handler through `current_principal()`.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import logging
import time
from enum import StrEnum
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import OnLoadInternalState
from reflex_base.event import Event, EventHandler
from reflex_base.registry import RegistrationContext
from reflex_base.utils.format import format_event_handler

from portal import format as fmt
from portal import i18n, logs
from portal.db import session_scope
from portal.domain import audit, auth
from portal.domain.audit import RequestInfo
from portal.domain.events import origin_of
from portal.domain.principal import Principal
from portal.live import runtime
from portal.live.loop import HandlerKey, hand_over_prefetched, handler_key, is_loop_first, remembered_counters
from portal.models import Role
from portal.settings import get_settings
from portal.state import tab
from portal.state.page_loads import page_loads

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


def enter_principal(principal: Principal | None, stranger_lang: str | None = None) -> None:
    """Serve the current event or live refresh as this principal, in their time zone, locale and
    language (a stranger: in `stranger_lang`)."""
    _current.set(principal)
    fmt.use_zone(principal.timezone if principal else None)
    chosen = principal.locale if principal else stranger_lang
    fmt.use_locale(chosen)
    i18n.use_language(chosen)


@functools.lru_cache(maxsize=1024)
def _browser_language(cookie_header: str, accept_language: str) -> str | None:
    return i18n.language_of(cookie_value(cookie_header, i18n.COOKIE)) or i18n.best_from_accept_language(
        accept_language)


def tab_language(state: BaseState, sess: Any, principal: Principal | None) -> str:
    """The language this tab is shown in: the person's profile, else the tab's own choice, the
    portal_lang cookie, the browser's Accept-Language, English."""
    if principal is not None:
        return i18n.language_of(principal.locale) or i18n.DEFAULT
    headers = tab.headers(state)
    return (sess._chosen_lang or _browser_language(headers.cookie or "", headers.accept_language or "")
            or i18n.DEFAULT)


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
    return RequestInfo(ip_address=tab.session(state).client_ip or "", user_agent=tab.headers(state).user_agent or "")


# A tab's kept principal is looked at again at least this often (and touches the session's
# last use then), and whenever its epochs move.
RECHECK_SECONDS = 60.0


def _cookie_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _resolve(raw: str, touch: bool) -> tuple[Principal | None, float]:
    with session_scope() as db:
        principal, until = auth.resolve_session_until(db, raw_token=raw, touch=touch)
    deadline = time.time() + RECHECK_SECONDS
    if until is not None:
        deadline = min(deadline, until.timestamp())
    return principal, deadline


@functools.lru_cache(maxsize=4096)
def _session_cookie(cookie_header: str, name: str) -> tuple[str, str] | None:
    """(raw session token, its digest) from a Cookie header. Every event of a tab carries the
    same header, so it is parsed and hashed once, not on every event."""
    raw = cookie_value(cookie_header, name)
    return (raw, _cookie_digest(raw)) if raw else None


async def tab_principal(state: BaseState, sess: Any, *, use: bool = True,
                        also: list[tuple[HandlerKey, tuple[str, ...]]] | None = None) -> Principal | None:
    """The principal of this tab: kept, or resolved again when it may have changed.

    `use`: the person acts in this tab (an event), which counts as using the session; a live
    push to the tab (use=False) does not. When a push was the one to look again, the tab's next
    own event looks again too, so that use is recorded.
    `also`: (a handler this event runs, the shared counters it read last time in this tab), for
    each: read in the same command as the epochs and handed over to the handler's try on the loop
    (`portal.live.loop`)."""
    found = _session_cookie(tab.headers(state).cookie or "", get_settings().session_cookie_name)
    if found is None:
        if sess._principal is not None or sess._cookie:
            sess._principal, sess._cookie, sess._epochs = None, "", ()
        return None
    raw, digest = found
    # Read without Reflex's change-tracking proxy: a Principal is frozen, and every handler of the
    # event reads it (through current_principal) many times.
    cached: Principal | None = sess.get_value("_principal")
    now = time.time()
    counters = runtime.counters()
    if digest == sess._cookie and now < sess._recheck_at and not (use and sess._use_unrecorded):
        if cached is None:
            return None  # a cookie already found worthless: no lookup for every event
        keys = runtime.identity_keys(cached.user_id)
        if not also:
            current = await counters.read(keys)
        else:
            values = await counters.read(keys + tuple(k for _handler, read in also for k in read))
            current, at = values[:len(keys)], len(keys)
            handed: dict[HandlerKey, dict[str, int]] = {}
            for handler, read in also:
                handed[handler] = dict(zip(read, values[at:at + len(read)], strict=True))
                at += len(read)
            hand_over_prefetched(handed)
        if current == tuple(sess._epochs):
            return cached
    # Epochs first, then the database: a change committed in between moves them again.
    epochs = await counters.read(runtime.identity_keys(cached.user_id)) if cached is not None else None
    principal, deadline = await runtime.offload(_resolve, raw, use)
    sess._use_unrecorded = not use
    if principal is not None and (cached is None or cached.user_id != principal.user_id):
        epochs = await counters.read(runtime.identity_keys(principal.user_id))
    sess._principal, sess._cookie, sess._recheck_at = principal, digest, deadline
    sess._epochs = tuple(epochs or ())
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


@functools.lru_cache(maxsize=512)
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
        from portal.state.session import SessionState

        if isinstance(event.payload, dict):
            cleaned = _without_nul(event.payload)
            event.payload.clear()
            event.payload.update(cleaned)

        logs.enter(event=logs.new_id(), handler=event.name)
        sess: Any = await state.get_state(SessionState)
        registered = RegistrationContext.get().event_handlers.get(event.name)
        principal = await tab_principal(state, sess, also=_counters_for(state, registered, event.name))
        lang = tab_language(state, sess, principal)
        enter_principal(principal, lang)  # times in their zone, texts in their language
        if sess.lang != lang:
            sess.lang = lang
        if principal is not None and event.name in HYDRATE_EVENTS and _browser_language(
                tab.headers(state).cookie or "", "") != lang:
            sess.lang_cookie = lang  # this browser's next visit, signed out, starts in it too
        if principal is not None:
            logs.bind(user_id=principal.user_id)
        logs.remember_event()
        audit.serving(request_info_of(state))  # every audit row of this event says from where
        await _bind_identity(state, sess, principal, rebind_live=event.name in HYDRATE_EVENTS)

        if registered is None:
            return None  # Reflex answers unknown events itself
        return await admit(state, sess, principal, registered.states[0], event.name)


def _awaits_mfa_setup(owner: type, level: Access | None, principal: Principal | None) -> bool:
    """Their role requires MFA they have not set up yet: only public and exempt handlers run."""
    return (principal is not None and principal.mfa_setup_required and level is not None
            and level != Access.PUBLIC and owner not in _MFA_SETUP_EXEMPT)


def permitted(owner: type, principal: Principal | None) -> bool:
    """The guard's rule for a handler of the state class `owner`: may `principal` run it now?"""
    declared, level = declared_access(owner)
    return not _awaits_mfa_setup(owner, level, principal) and is_allowed(level, principal, declared=declared)


async def admit(state: BaseState, sess: Any, principal: Principal | None, owner: type,
                name: str) -> StateUpdate | None:
    """May `principal` run a handler (`name`) of the state class `owner` in this tab? None: yes (and
    a listening state is on screen from now on); else the refusal's redirect."""
    from reflex.state import StateUpdate

    if permitted(owner, principal):
        if principal is not None:
            await _note_on_screen(state, sess, owner)
        return None
    if _awaits_mfa_setup(owner, declared_access(owner)[1], principal):
        return StateUpdate(events=Event.from_event_type(
            rx.redirect("/account/security?setup=mfa", replace=True)))
    log.warning("refused event %s for %s", name,
                f"user {principal.user_id}" if principal else "a stranger")
    if principal is None:
        path = tab.path(state) or "/"
        target = f"/login?next={quote(path)}" if path not in ("/", "/login") else "/login"
    else:
        target = "/"
    return StateUpdate(events=Event.from_event_type(rx.redirect(target, replace=True)))


def _counters_for(state: BaseState, registered: Any,
                  event_name: str) -> list[tuple[HandlerKey, tuple[str, ...]]] | None:
    """With Redis: for each handler this event runs that is tried on the loop first (its own, and
    on a navigation the bell's arrival and the page's loads that ride it), the shared counters it
    read last time in this tab, to be read with the session's epochs (one round trip for all)."""
    if registered is None or not isinstance(runtime.counters(), runtime.RedisCounters):
        return None
    token = tab.token(state)
    fn = registered.handler.fn
    runs: list[tuple[Any, Any]] = [(registered.states[0], fn)] if is_loop_first(fn) else []
    if event_name in NAVIGATION_EVENTS or event_name in HYDRATE_EVENTS:
        from portal.state.notifications import NotificationState

        runs.append((NotificationState, NotificationState._arrive))  # tried on the loop by the arrival
    if event_name in NAVIGATION_EVENTS:
        context = RegistrationContext.get()
        for name, owner in page_loads(tab.route_id(state)):
            load = context.event_handlers.get(name)
            if load is not None and is_loop_first(load.handler.fn):
                runs.append((owner, load.handler.fn))
    found = []
    for owner, fn in runs:
        key = handler_key(origin_of(token, owner.get_full_name()), fn)
        keys = remembered_counters(key)
        if keys:
            found.append((key, keys))
    return found or None


HYDRATE_EVENTS = frozenset({
    "reflex___state____state.hydrate", "reflex___state____state.hydrate_and_load",
})
ON_LOAD_INTERNAL = format_event_handler(OnLoadInternalState.on_load_internal)  # type: ignore[arg-type]
# The events that announce a page's arrival in a tab; a page's folded loads ride them.
NAVIGATION_EVENTS = frozenset({"reflex___state____state.hydrate_and_load", ON_LOAD_INTERNAL})


async def note_on_screen(state: BaseState, owner: type) -> None:
    """`owner` (a listening state) is shown in this tab from now on, as if an event of its own
    had passed the guard (for states loaded by another state's event, see state/arrival.py)."""
    from portal.state.session import SessionState

    await _note_on_screen(state, await state.get_state(SessionState), owner)


async def _note_on_screen(state: BaseState, sess: Any, owner: type) -> None:
    """Which listening states the tab shows now: those used on the current page, plus the
    shell's (bell, chat) once used. The live push refreshes only these."""
    from portal.live.push import listening, set_screen, shell_listener
    from portal.state.session import SessionState

    page = tab.path(state) or "/"
    name = owner.get_full_name()  # type: ignore[attr-defined]
    if (sess._screen_page == page and SessionState.get_full_name() in sess._screen
            and (name in sess._screen or not listening(owner))):
        return  # the usual event: same page, nothing new on screen
    screen: frozenset[str] = frozenset(sess._screen)
    if sess._screen_page != page:
        sess._screen_page = page
        # The new page's own listening states (those its load runs) are on screen from its first
        # event: one write for the page change, not one more when its load comes.
        screen = frozenset(name for name in screen if shell_listener(name)) | page_listeners(tab.route_id(state))
    if listening(owner):
        screen = screen | {name}
    # The header (the person's name) is on every page: it follows a rename made in another tab.
    screen = screen | {SessionState.get_full_name()}
    if screen != frozenset(sess._screen):
        sess._screen = screen
        await set_screen(tab.token(state), screen)


@functools.lru_cache(maxsize=512)
def page_listeners(route: str | None) -> frozenset[str]:
    """The listening states whose handlers a page's load runs (the app's on_load for `route`)."""
    from portal.live.push import listening

    context = RegistrationContext.get()
    app = context._app
    if app is None or not route:
        return frozenset()
    names: set[str] = {owner.get_full_name() for _name, owner in page_loads(route)  # type: ignore[attr-defined]
                        if listening(owner)}
    loads = app._load_events.get(route) or app._load_events.get(route.strip("/") or "index") or ()
    for spec in loads:
        handler = getattr(spec, "handler", spec)  # an EventSpec names its handler
        registered = (context.event_handlers.get(format_event_handler(handler))
                      if isinstance(handler, EventHandler) else None)
        if registered is not None and listening(registered.states[0]):
            names.add(registered.states[0].get_full_name())
    return frozenset(names)


async def _bind_identity(state: BaseState, sess: Any, principal: Principal | None, *, rebind_live: bool) -> None:
    from portal.live.push import bind_token
    from portal.state.session import SessionState

    uid = principal.user_id if principal else None
    if sess._bound_user_id == uid and sess.signed_in == (principal is not None):
        if principal is not None and sess.user_name != (principal.name or principal.email):
            sess._apply_principal(principal)  # renamed (in this tab or another): the header follows
        if rebind_live and principal is not None:
            # Each page load and reconnect refreshes this tab's place in the live registry.
            await bind_token(tab.token(state), user_id=uid, customer_id=principal.customer_id,
                             role=principal.role, screen=frozenset(sess._screen))
        return
    # A different person (or nobody) now drives this tab: forget everything loaded for the one
    # before. A tab nobody was signed in to holds only what a stranger may see: nothing to forget
    # (and a fresh tab's first event then costs no reset of every state).
    if sess._bound_user_id is not None or sess.signed_in:
        for cls in portal_state_classes():
            if cls is SessionState:
                continue
            sub: Any = await state.get_state(cls)
            sub.reset()
    sess._bound_user_id = uid
    token = tab.token(state)
    sess._screen, sess._screen_page = frozenset(), ""
    sess._apply_principal(principal)
    await bind_token(token, user_id=uid, customer_id=principal.customer_id if principal else None,
                     role=principal.role if principal else "", screen=frozenset())
