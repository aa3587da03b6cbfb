"""The one mechanism every portal state shares: a page is a domain call plus a view.

``PortalState`` is a Reflex mixin (it adds no state of its own to the tree). What it gives:

- **Handlers off the event loop.** Every handler a portal state writes as a plain ``def`` runs
  in the portal's worker pool (``portal.live.runtime.offload``), with the tab's principal in
  context, while Reflex holds the tab's state lock as for any event. So database work, argon2,
  PDFs and the like never stall other sockets; ``async def`` handlers run on the loop and must
  only await. A handler that only changes its state's own fields (a toggle, a choice, a field
  typed, a panel opened) is marked ``@on_loop``: it runs on the loop with no thread hop, so it
  answers at once even while the pool is busy with other people's work.
- **Who is asking:** ``self._me()`` is the tab's principal, resolved by the guard once per tab
  and kept server-side (``portal.state.guard``); handlers never look it up themselves.
- **Domain calls with coded errors mapped:** ``self._call(fn, **kwargs)`` runs
  ``fn(db, principal=me, **kwargs)`` in one transaction; a ``DomainError`` becomes
  ``self.error`` (or the field named by ``into``, in the state's own wording, ``_message``) and
  the call answers ``FAILED``.
- **Kept views:** ``self._view(name, args, topics, fn, **kwargs)`` is a read served from
  ``portal.live.views`` while no domain event of those topics moved for this principal.
- **Live refresh:** a state that declares ``@listens(topic, ...)`` is refreshed by the live push
  only while its page is on screen in that tab, once per batch, through ``_live(events)``; by
  default that calls ``_reload()``, the same code the page's load runs.
- **Small deltas:** ``self._set(name=value, ...)`` assigns only what changed, so a refresh that
  changes nothing sends (almost) nothing to the browser.
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import MISSING
from typing import Any, Final, Literal, TypeVar

import reflex as rx
from reflex.state import _ROUTER_FIELD_NAMES
from reflex_base.constants.state import FIELD_MARKER
from reflex_base.event import BACKGROUND_TASK_MARKER

from portal.db import session_scope
from portal.domain import events
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent
from portal.domain.principal import Principal, require_principal
from portal.live import runtime
from portal.live.loop import (
    LOOP_FIRST,
    NeedsWorker,
    handler_key,
    is_loop_first,
    on_loop_attempt,
    recording_counters_read,
    remember_counters,
    remembered_counters,
    stop_recording,
    take_prefetched,
)
from portal.live.runtime import offload
from portal.live.views import views
from portal.state import tab
from portal.state.guard import current_principal
from portal.state.messages import message_for_error

T = TypeVar("T")


def _in_worker(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A plain handler becomes an async one that runs the original in the worker pool."""
    if (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)
            or getattr(fn, BACKGROUND_TASK_MARKER, False)):
        return fn

    if getattr(fn, ON_LOOP, False):
        @functools.wraps(fn)
        async def inline(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return on_loop_attempt({}, _as_origin, _origin(self), fn, self, *args, **kwargs)
            except NeedsWorker as err:
                raise RuntimeError(f"{fn.__qualname__} is marked on_loop but reached blocking work: {err}") from err

        return inline

    first_on_loop = is_loop_first(fn)

    @functools.wraps(fn)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_sync(self, fn, *args, first_on_loop=first_on_loop, **kwargs)

    return run


async def run_sync(state: Any, fn: Callable[..., T], *args: Any, first_on_loop: bool = False, **kwargs: Any) -> T:
    """`fn(state, ...)` as a portal handler runs: in the worker pool with the event's origin
    (tried on the loop first when `first_on_loop`, see `portal.live.loop`)."""
    origin = _origin(state)
    if not first_on_loop:
        return await offload(_as_origin, origin, fn, state, *args, **kwargs)
    counters = runtime.counters()
    remembered = handler_key(origin, fn)
    prefetched: dict[str, int] | None = None
    if isinstance(counters, runtime.RedisCounters):
        prefetched = take_prefetched(remembered)  # read by the guard with the session's epochs
        keys = remembered_counters(remembered) if prefetched is None else None
        if keys:
            prefetched = dict(zip(keys, await counters.read(keys), strict=True))
    seen, recording = recording_counters_read()
    try:
        try:
            return on_loop_attempt(prefetched, _as_origin, origin, fn, state, *args, **kwargs)
        except NeedsWorker:
            pass  # something was not kept: the whole handler again, in the pool
        return await offload(_as_origin, origin, fn, state, *args, **kwargs)
    finally:
        stop_recording(recording)
        if seen and isinstance(counters, runtime.RedisCounters):
            remember_counters(remembered, seen)


# The mark of a handler that runs on the event loop (see `on_loop`).
ON_LOOP = "__portal_on_loop__"


def on_loop(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a handler that only changes its state's own fields from its arguments and what the
    state holds (a toggle, a choice from a list the page shows, a field typed, a panel opened or
    closed): it runs on the event loop, with no hop to the worker pool, so such a click answers
    at once even while the pool is busy. Such a handler must not block: reaching blocking work
    (a database session, a shared counter, heavy work) raises instead of running it on the loop
    (tests/state/test_on_loop_handlers.py also checks what each one calls)."""
    setattr(fn, ON_LOOP, True)
    return fn


def loop_first(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a handler that only reads into its state's fields (so that running it again from
    the start is harmless): it is tried on the event loop first, where a load served entirely
    from kept views costs no thread hop; at the first blocking step (a database session, a
    statement, a Redis read, heavy work) it stops and runs again in the worker pool."""
    setattr(fn, LOOP_FIRST, True)
    return fn


def _origin(state: Any) -> str:
    """The origin of what a handler of this state's tab causes (`portal.domain.events.origin_of`)."""
    return events.origin_of(tab.token(state), type(state).get_full_name())


def _as_origin(origin: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    token = events.current_origin.set(origin)
    try:
        return fn(*args, **kwargs)
    finally:
        events.current_origin.reset(token)


class Failed(enum.Enum):
    """What `PortalState._call` answers when the domain refused (falsy; `is FAILED` narrows)."""

    FAILED = "FAILED"

    def __bool__(self) -> bool:
        return False


FAILED: Final = Failed.FAILED


def _overrides(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__override_base_method__ = True  # type: ignore[attr-defined] # Reflex: an intended override
    return fn


_NO_SUBSTATES: frozenset[str] = frozenset()


class _LeafSubstates(Mapping[str, Any]):
    """The `substates` every leaf state shares (an empty dict of each one's own is 64 bytes). Reflex
    only adds to a parent's; a write here fails loudly instead of reaching every tab's leaves, and
    `clear` (Reflex's `_release_state_tree` clears every state's when a tab's tree is purged) has
    nothing to do."""

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __setitem__(self, name: str, value: Any) -> None:
        raise TypeError("a leaf state has no substates")

    def clear(self) -> None:
        pass


_NO_SUBSTATE_STATES: Final = _LeafSubstates()


class _NoDirtyVars:
    """A state's `dirty_vars` while nothing is dirty: answers as an empty set, and the first `add` or
    `update` puts a real set in its place on the state (Reflex and its field descriptors add to the
    state's `dirty_vars` directly). An empty set is 216 bytes and every state of every tab had one
    (about 11 KB a tab); this is 40. `tests/state/test_tab_memory.py` checks both ways."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def _real(self) -> set[str]:
        current = object.__getattribute__(self._state, "dirty_vars")
        if current is not self:  # already replaced: a caller kept this one and adds again
            return current  # type: ignore[no-any-return]
        real: set[str] = set()
        object.__setattr__(self._state, "dirty_vars", real)
        return real

    def add(self, name: str) -> None:
        self._real().add(name)

    def update(self, *names: Any) -> None:
        self._real().update(*names)

    def discard(self, name: str) -> None:
        pass

    def clear(self) -> None:
        pass

    def copy(self) -> set[str]:
        return set()

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __contains__(self, name: object) -> bool:
        return False

    def __and__(self, other: Any) -> set[str]:
        return set()

    __rand__ = __and__

    def __sub__(self, other: Any) -> set[str]:
        return set()

    def __or__(self, other: Any) -> set[str]:
        return set(other)

    __ror__ = __or__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (set, frozenset, _NoDirtyVars)) and not other

    __hash__ = None  # type: ignore[assignment]  # as a set's

    def __repr__(self) -> str:
        return "set()"

def release_dirty_vars(root: Any) -> None:
    """Before Reflex unlinks a purged tab's tree (`_release_state_tree`, so that reference counting
    frees it at once): each state's `_NoDirtyVars` points back at its state, a cycle that only the
    cyclic collector would find, long after, for trees that lived long enough to be old. Each gets a
    plain empty set instead (portal.state.tab_states calls this from the managers' purge)."""
    stack = [root]
    while stack:
        state = stack.pop()
        if type(object.__getattribute__(state, "dirty_vars")) is _NoDirtyVars:
            object.__setattr__(state, "dirty_vars", set())
        stack.extend(state.substates.values())


# Per state class: its own fields whose default is a fixed value (immutable, or a mutable one
# Reflex deep-copies per instance), so that reading it again always gives an equal value; each
# with how to make it: the value itself, a new empty container of its type, or a deep copy.
_FIXED_DEFAULTS: dict[type, dict[str, tuple[int, Any]]] = {}
_AS_IS, _EMPTY, _COPY = 0, 1, 2


def _fixed_defaults(cls: type) -> dict[str, tuple[int, Any]]:
    found = _FIXED_DEFAULTS.get(cls)
    if found is None:
        found = {}
        for name, f in getattr(cls, "__fields__", {}).items():
            if f._owner is not cls:
                continue
            factory = f.default_factory
            if f.default is not MISSING:
                found[name] = (_AS_IS, f.default)
            elif (isinstance(factory, functools.partial) and factory.func is copy.deepcopy
                    and len(factory.args) == 1 and not factory.keywords):
                template = factory.args[0]
                empty = type(template) in (list, dict, set) and not template
                found[name] = (_EMPTY, type(template)) if empty else (_COPY, factory)
        _FIXED_DEFAULTS[cls] = found
    return found


# Per state class: the snapshot of a state that holds nothing of its own yet, when that is only its
# fields' fixed defaults (no computed var): its fields' names, and (snapshot key, how, what) for each
# field in the snapshot's order. None for a class whose snapshot needs Reflex's `dict()`. A default
# that Reflex deep-copies for each read is copied once here: every caller of `dict()` (a hydrate,
# the compiler's initial state) only serializes the snapshot. An empty list or dict is still made
# anew for each snapshot (as cheap as a lookup).
_SnapshotTemplate = tuple[frozenset[str], tuple[tuple[str, int, Any], ...]]


@functools.cache
def _snapshot_template(cls: type) -> _SnapshotTemplate | None:
    fixed = _fixed_defaults(cls)
    names = list(getattr(cls, "base_vars", {}))
    if getattr(cls, "computed_vars", None) or not all(name in fixed for name in names):
        return None
    entries = []
    for name in sorted(names):
        how, what = fixed[name]
        if how == _COPY:  # one copy for every snapshot: a snapshot is only serialized, never changed
            how, what = _AS_IS, what()
        entries.append((name + FIELD_MARKER, how, what))
    return frozenset(names), tuple(entries)


@functools.cache
def _client_storage_fields(cls: type) -> tuple[str, ...]:
    """The fields of `cls` kept in the browser (cookies, local and session storage)."""
    fields = cls.get_fields()  # type: ignore[attr-defined]
    return tuple(name for name in cls.base_vars if cls._is_client_storage(fields[name]))  # type: ignore[attr-defined]


class PortalState(rx.State, mixin=True):
    @classmethod
    @_overrides
    def _create_event_handler(cls, fn: Any, event_handler_cls: Any = None) -> Any:
        wrapped = _in_worker(fn)
        if event_handler_cls is None:
            return super()._create_event_handler(wrapped)
        return super()._create_event_handler(wrapped, event_handler_cls)

    @_overrides
    def _init_bookkeeping(self, parent_state: Any = None) -> None:
        super()._init_bookkeeping(parent_state)
        if not type(self).get_substates():
            # A state with no substates never has a dirty one: Reflex only adds to the
            # `dirty_substates` of a parent (and replaces the set when it cleans a state), so
            # a leaf shares one empty frozenset instead of an empty set of its own (216 bytes,
            # for each of the ~50 states of every tab), and one shared empty `substates`.
            object.__setattr__(self, "dirty_substates", _NO_SUBSTATES)
            object.__setattr__(self, "substates", _NO_SUBSTATE_STATES)
        object.__setattr__(self, "dirty_vars", _NoDirtyVars(self))

    @_overrides
    def _clean(self) -> None:
        super()._clean()  # gives the state new empty sets: back to the shared and the lazy ones
        object.__setattr__(self, "dirty_vars", _NoDirtyVars(self))
        if not type(self).get_substates():
            object.__setattr__(self, "dirty_substates", _NO_SUBSTATES)

    @_overrides
    def get_value(self, key: Any) -> Any:
        """A field's value without proxying, as Reflex's; but a field that was never assigned
        nor read through the state answers its default without storing it in the instance.

        Reflex stores a field's default in the instance when it is first read, and the snapshot
        sent at every hydrate (``dict()``) reads every field of every state of the tab's tree:
        each tab then kept its own copy of every default (a few hundred dict entries and a
        hundred empty lists per tab). The answer is the same (the default is a fixed value,
        see `_fixed_defaults`); a handler's read or write still stores it as before."""
        if type(key) is str and key not in self.__dict__:
            fixed = _fixed_defaults(type(self)).get(key)
            if fixed is not None:
                how, what = fixed
                return what if how == _AS_IS else what()
        return super().get_value(key)

    @_overrides
    def dict(self, include_computed: bool = True, initial: bool = False, **kwargs: Any) -> dict[str, Any]:
        """The snapshot of this state and its substates, as Reflex's; but a state that holds
        nothing of its own yet and shows no computed var answers its fields' defaults from a
        template made once per class.

        A new tab's hydrate snapshots all of its ~50 states, and Reflex's `dict()` looks up each of
        its ~500 fields one by one (`get_value`), marks computed vars, sorts the names: about 1.6 ms
        of the event loop for each tab a sign-in opens, most of it for states that hold nothing yet.
        The answer is the same (`tests/state/test_tab_memory.py` compares it with Reflex's own)."""
        template = _snapshot_template(type(self))
        if template is None or kwargs or self.dirty_vars or not template[0].isdisjoint(self.__dict__):
            return super().dict(include_computed=include_computed, initial=initial, **kwargs)
        d = {self.get_full_name(): {key: what if how == _AS_IS else what() for key, how, what in template[1]}}
        for substate in self.substates.values():
            d.update(substate.dict(include_computed=include_computed, initial=initial))
        return d

    @_overrides
    def _reset_client_storage(self) -> None:
        """As Reflex's (hydrate puts the fields kept in the browser back to their defaults), with
        each class's such fields found once rather than by asking every field of every state at
        every hydrate."""
        names = _client_storage_fields(type(self))
        if names:
            fields = self.get_fields()
            for name in names:
                setattr(self, name, fields[name].default_value())
        for substate in self.substates.values():
            substate._reset_client_storage()

    # --- who is asking --------------------------------------------------------------------

    def _me(self) -> Principal:
        return require_principal(current_principal())

    # --- domain calls ---------------------------------------------------------------------

    def _message(self, err: DomainError) -> str:
        """How this state words a coded error (override for a page's own wording)."""
        return message_for_error(err)

    def _call(self, fn: Callable[..., T], /, *, into: str = "error", **kwargs: Any) -> T | Literal[Failed.FAILED]:
        """`fn(db, principal=me, **kwargs)` in one transaction. A coded error is worded by
        `_message` into the field `into` (what was typed stays as it is), and the answer is
        `FAILED`, so a caller that must stop tests `if result is FAILED: return`."""
        try:
            with session_scope() as db:
                return fn(db, principal=self._me(), **kwargs)
        except DomainError as err:
            setattr(self, into, self._message(err))
            return FAILED

    def _view(self, name: str, args: Hashable, topics: tuple[str, ...], fn: Callable[..., T], /,
              **kwargs: Any) -> T:
        """A read kept until a domain event of `topics` moves for this principal."""
        me = self._me()

        def load() -> T:
            with session_scope() as db:
                return fn(db, principal=me, **kwargs)

        return views.get(me, name, args, topics, load)

    # --- live -----------------------------------------------------------------------------

    def _reload(self) -> None:
        """Load again what the page shows (listening states implement it, or `_live`)."""

    def _live(self, batch: list[DomainEvent]) -> None:
        """Called in the worker pool by the live push with this tab's principal in context,
        once for all the events of a batch that concern this state."""
        self._reload()

    # --- small deltas ---------------------------------------------------------------------

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            # Compared as stored (get_value), without wrapping it in a change-tracking proxy first.
            if self.get_value(name) != value:
                setattr(self, name, value)

    def _reset_to(self, **values: Any) -> None:
        """`reset()` followed by assigning `values`, as one step that assigns only the fields whose
        value changes: every field of this state (as Reflex's own reset picks them) ends at its
        value in `values`, else at its default. A page's load that starts afresh and fills in the
        same values as at the last visit then sends nothing to the browser."""
        cls = self.__class__
        unknown = set(values)
        for name, f in cls.__fields__.items():
            if f._owner is cls and name not in _ROUTER_FIELD_NAMES:
                unknown.discard(name)
                value = values[name] if name in values else f.default_value()
                if self.get_value(name) != value:
                    setattr(self, name, value)
        if unknown:
            raise AttributeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        for substate in self.substates.values():
            substate.reset()
