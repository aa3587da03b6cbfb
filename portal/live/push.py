"""Deliver domain events to open browsers by modifying each tab's state out of band.

A state class opts in with ``@listens(topic, ...)`` and implements ``_live(events)`` (by
default: ``_reload()``, what its page's load runs). What a push costs is proportional to what
is on screen:

- only tabs bound to the customer, user or role of an event are considered, and only while
  their socket is open (bound at hydrate, unbound at disconnect);
- in each tab, only the listening states of the page it shows now (plus the shell's: the bell,
  the chat) are refreshed, never every page the tab once visited;
- the events committed while a delivery runs are taken together, and each (tab, state) is
  refreshed once for all of them;
- the state whose own handler caused an event already shows it and is not refreshed again;
- the tab's principal is the one the guard keeps for it (its epochs are checked, so a revoked
  session gets nothing), and the refresh itself runs in the worker pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from portal import metrics
from portal.domain import events
from portal.domain.events import DomainEvent
from portal.live.registry import MemoryRegistry, RedisRegistry, TokenRegistry
from portal.live.resp import PipelinedRedis
from portal.settings import get_settings

if TYPE_CHECKING:
    from reflex.app import App

log = logging.getLogger(__name__)

_LISTENERS: dict[type, frozenset[str]] = {}
_SHELL: set[str] = set()
TOUCH_EVERY_SECONDS = 300.0


class _Runtime:
    app: App | None = None
    loop: asyncio.AbstractEventLoop | None = None
    registry: TokenRegistry = MemoryRegistry()
    tasks: set[asyncio.Task[Any]] = set()
    pending: list[DomainEvent] = []
    draining: asyncio.Task[Any] | None = None


runtime = _Runtime()


def listens(*topics: str, in_shell: bool = False) -> Any:
    """Refresh this state on these topics while it is on screen. `in_shell`: its UI is part of
    the page shell (shown on every page once used), not of one page."""

    def decorate(cls: type) -> type:
        _LISTENERS[cls] = frozenset(topics)
        if in_shell:
            _SHELL.add(cls.get_full_name())  # type: ignore[attr-defined]
        return cls

    return decorate


def listening(cls: type) -> bool:
    return cls in _LISTENERS


def shell_listener(full_name: str) -> bool:
    return full_name in _SHELL


_NAMES: dict[str, tuple[type, frozenset[str]]] = {}


def _by_name() -> dict[str, tuple[type, frozenset[str]]]:
    """Listening states by full name (built once their classes are all declared)."""
    if len(_NAMES) != len(_LISTENERS):
        _NAMES.clear()
        _NAMES.update({cls.get_full_name(): (cls, topics)  # type: ignore[attr-defined]
                       for cls, topics in _LISTENERS.items()})
    return _NAMES


async def bind_token(token: str, *, user_id: int | None, customer_id: int | None, role: str,
                     screen: frozenset[str] = frozenset()) -> None:
    if not token:
        return
    if user_id is None:
        await runtime.registry.unbind(token)
    else:
        await runtime.registry.bind(token, user_id=user_id, customer_id=customer_id, role=role, screen=screen)


async def set_screen(token: str, screen: frozenset[str]) -> None:
    if token:
        await runtime.registry.set_screen(token, screen)


async def deliver(batch: list[DomainEvent]) -> int:
    """Refresh the on-screen listening states of every tab concerned, once per (tab, state).
    Returns the number of refreshes."""
    app = runtime.app
    if app is None:
        return 0
    names = _by_name()
    # (token, state name) -> the events that concern it
    work: dict[tuple[str, str], list[DomainEvent]] = defaultdict(list)
    audiences: dict[tuple[Any, ...], dict[str, frozenset[str]]] = {}
    for ev in batch:
        wanted = {name for name, (_, topics) in names.items() if ev.topic in topics}
        if not wanted:
            continue
        key = (ev.customer_id, ev.user_ids, ev.roles)
        if key not in audiences:
            audiences[key] = await runtime.registry.audience(customer_id=ev.customer_id, user_ids=ev.user_ids,
                                                             roles=ev.roles)
        for token, screen in audiences[key].items():
            for name in wanted & screen:
                work[(token, name)].append(ev)
    refreshed = 0
    by_token: dict[str, list[tuple[str, list[DomainEvent]]]] = defaultdict(list)
    for (token, name), evs in work.items():
        if all(ev.origin == events.origin_of(token, name) for ev in evs):
            continue  # that state made the change itself and already shows it
        by_token[token].append((name, evs))
    for token, items in by_token.items():
        try:
            refreshed += await _refresh_tab(app, token, [(names[n][0], evs) for n, evs in items])
        except Exception:
            log.exception("live delivery to a tab failed")
    metrics.LIVE_PUSHES.inc(refreshed)
    return refreshed


async def _refresh_tab(app: App, token: str, items: list[tuple[type, list[DomainEvent]]]) -> int:
    from reflex.istate.manager.token import BaseStateToken

    from portal.live.runtime import offload
    from portal.state import guard
    from portal.state.session import SessionState

    done = 0
    async with app.modify_state(BaseStateToken(ident=token, cls=items[0][0])) as root:
        sess: Any = await root.get_state(SessionState)
        if not sess.signed_in:
            return 0
        # A push is not the person using their session: it never extends it.
        principal = await guard.tab_principal(root, sess, use=False)
        if principal is None or principal.user_id != sess._bound_user_id:
            return 0  # revoked or changed hands: the tab's next event sorts it out
        guard.enter_principal(principal)
        for cls, evs in items:
            state: Any = await root.get_state(cls)
            if not getattr(state, "loaded", False):
                continue
            # What the refresh itself commits (a chat marked read) is shown by this state already.
            events.current_origin.set(events.origin_of(token, cls.get_full_name()))  # type: ignore[attr-defined]
            await offload(state._live, evs)
            done += 1
    return done


def _schedule(batch: list[DomainEvent]) -> None:
    runtime.pending.extend(batch)
    if runtime.draining is None or runtime.draining.done():
        # A context of its own: not the one of whichever handler committed (its principal, its
        # origin), which each tab's refresh would otherwise inherit.
        task = asyncio.get_running_loop().create_task(_drain(), context=contextvars.Context())
        runtime.draining = task
        runtime.tasks.add(task)
        task.add_done_callback(runtime.tasks.discard)


async def _drain() -> None:
    # Everything committed while a delivery runs is delivered together next.
    while runtime.pending:
        batch, runtime.pending = runtime.pending, []
        try:
            await deliver(batch)
        except Exception:
            log.exception("live delivery failed")


def _on_commit(batch: list[DomainEvent]) -> None:
    loop = runtime.loop
    if loop is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _schedule(batch)
    else:
        # Committed in the worker pool, a job or a test: hand over to the app's loop.
        loop.call_soon_threadsafe(_schedule, list(batch), context=contextvars.Context())


def _hook_disconnect(app: App) -> None:
    """Unbind a tab from the registry as soon as its socket closes."""
    ns: Any = getattr(app, "event_namespace", None)
    if ns is None or getattr(ns, "_portal_unbinds", False):
        return
    original = ns.on_disconnect

    def on_disconnect(sid: str, *args: Any) -> Any:
        token = ns.sid_to_token.get(sid)
        result = original(sid)
        if token:
            task = asyncio.get_running_loop().create_task(_closed(app, token, result))
            runtime.tasks.add(task)
            task.add_done_callback(runtime.tasks.discard)
        return result

    ns.on_disconnect = on_disconnect
    ns._portal_unbinds = True


async def _closed(app: App, token: str, cleanup: Any) -> None:
    """A socket closed: the tab leaves the registry; once Reflex has forgotten the socket, a tab
    with no other socket open (a reload's new socket may have come first) is closed, and the state
    manager may free its state sooner (`portal.state.tab_states`)."""
    await runtime.registry.unbind(token)
    if isinstance(cleanup, asyncio.Task):
        with contextlib.suppress(Exception):  # Reflex logs its own cleanup's errors
            await cleanup
    closed = getattr(getattr(app, "_state_manager", None), "tab_closed", None)
    if closed is not None and not is_connected(token):
        closed(token)


def _token_manager() -> Any:
    app = runtime.app
    ns: Any = getattr(app, "event_namespace", None) if app is not None else None
    return getattr(ns, "_token_manager", None)


def is_connected(token: str) -> bool:
    """Whether a socket of this tab is open on this worker. Both of Reflex's maps are read: when a
    reload's new socket links before the old one's cleanup, that cleanup drops the tab from
    `token_to_socket`, but the new socket stays in `sid_to_token`."""
    manager = _token_manager()
    return manager is not None and (token in manager.token_to_socket or token in manager.sid_to_token.values())


def open_tokens() -> set[str]:
    """The tabs with a socket open on this worker (as `is_connected`), for asking about many."""
    manager = _token_manager()
    if manager is None:
        return set()
    return set(manager.token_to_socket) | set(manager.sid_to_token.values())


def connected_tokens() -> list[str]:
    app = runtime.app
    ns: Any = getattr(app, "event_namespace", None) if app is not None else None
    return list(ns.sid_to_token.values()) if ns is not None else []


async def _sweep_views() -> None:
    """Drop kept answers nobody read for a while (portal.live.views), off the loop: freeing many
    answers at once is many objects."""
    from portal.live.views import views

    idle = get_settings().portal_view_idle_seconds
    every = min(15.0, max(1.0, idle / 4))
    while True:
        await asyncio.sleep(every)
        if len(views):
            try:
                await asyncio.to_thread(views.sweep, idle)
            except Exception:
                log.exception("could not sweep the kept views")


async def _prune_leases(app: App) -> None:
    """Drop the state manager's per-tab locks of leases that ended (`StrangerRedis.prune_idle_locks`)."""
    while True:
        await asyncio.sleep(30.0)
        prune = getattr(getattr(app, "_state_manager", None), "prune_idle_locks", None)
        if prune is None:
            return
        try:
            prune()
        except Exception:
            log.exception("could not prune the state manager's idle locks")


async def _keep_alive() -> None:
    while True:
        await asyncio.sleep(TOUCH_EVERY_SECONDS)
        try:
            await runtime.registry.touch(connected_tokens())
        except Exception:
            log.exception("could not renew the live registry entries")


@contextlib.asynccontextmanager
async def live_lifespan(app: App) -> AsyncIterator[None]:
    runtime.app = app
    runtime.loop = asyncio.get_running_loop()
    redis_url = get_settings().reflex_redis_url
    client = None
    if redis_url:
        client = RedisRegistry(_redis(redis_url), PipelinedRedis.for_url(redis_url))
        runtime.registry = client
    else:
        runtime.registry = MemoryRegistry()
    events.subscribe(_on_commit)
    _hook_disconnect(app)
    keep_alive = asyncio.get_running_loop().create_task(_keep_alive())
    sweep = asyncio.get_running_loop().create_task(_sweep_views())
    prune = asyncio.get_running_loop().create_task(_prune_leases(app))
    try:
        yield
    finally:
        keep_alive.cancel()
        sweep.cancel()
        prune.cancel()
        events.unsubscribe(_on_commit)
        runtime.loop = None
        if client is not None:
            await client.redis.aclose()
            if client.fast is not None:
                await client.fast.close()


def _redis(url: str) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(url)
