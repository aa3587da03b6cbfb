"""The one mechanism every portal state shares: a page is a domain call plus a view.

``PortalState`` is a Reflex mixin (it adds no state of its own to the tree). What it gives:

- **Handlers off the event loop.** Every handler a portal state writes as a plain ``def`` runs
  in the portal's worker pool (``portal.live.runtime.offload``), with the tab's principal in
  context, while Reflex holds the tab's state lock as for any event. So database work, argon2,
  PDFs and the like never stall other sockets; ``async def`` handlers run on the loop and must
  only await.
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

import enum
import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Final, Literal, TypeVar

import reflex as rx
from reflex_base.event import BACKGROUND_TASK_MARKER

from portal.db import session_scope
from portal.domain import events
from portal.domain.errors import DomainError
from portal.domain.events import DomainEvent
from portal.domain.principal import Principal, require_principal
from portal.live import runtime
from portal.live.loop import NeedsWorker, on_loop_attempt, recording_counters_read, stop_recording
from portal.live.runtime import offload
from portal.live.views import views
from portal.state.guard import current_principal
from portal.state.messages import message_for_error

T = TypeVar("T")


def _in_worker(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A plain handler becomes an async one that runs the original in the worker pool."""
    if (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)
            or getattr(fn, BACKGROUND_TASK_MARKER, False)):
        return fn

    first_on_loop = getattr(fn, _LOOP_FIRST, False)

    @functools.wraps(fn)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_sync(self, fn, *args, first_on_loop=first_on_loop, **kwargs)

    return run


async def run_sync(state: Any, fn: Callable[..., T], *args: Any, first_on_loop: bool = False, **kwargs: Any) -> T:
    """`fn(state, ...)` as a portal handler runs: in the worker pool with the event's origin
    (tried on the loop first when `first_on_loop`, see `portal.live.loop`)."""
    token = state.router.session.client_token
    origin = f"{token}|{type(state).get_full_name()}"
    if not first_on_loop:
        return await offload(_as_origin, origin, fn, state, *args, **kwargs)
    counters = runtime.counters()
    remembered = (token, origin, fn.__qualname__)
    prefetched: dict[str, int] | None = None
    if isinstance(counters, runtime.RedisCounters):
        keys = _COUNTERS_READ.get(remembered)
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
            _COUNTERS_READ[remembered] = tuple(sorted(seen))
            _COUNTERS_READ.move_to_end(remembered)
            while len(_COUNTERS_READ) > _COUNTERS_READ_MAX:
                _COUNTERS_READ.popitem(last=False)


# Which shared counters each (tab, state, handler) read on its last run, so that its next try on
# the loop can read them first with the async client (a few thousand tabs' worth, newest kept).
_COUNTERS_READ: OrderedDict[tuple[str, str, str], tuple[str, ...]] = OrderedDict()
_COUNTERS_READ_MAX = 20_000


_LOOP_FIRST = "__portal_loop_first__"


def loop_first(fn: Callable[..., T]) -> Callable[..., T]:
    """Mark a handler that only reads into its state's fields (so that running it again from
    the start is harmless): it is tried on the event loop first, where a load served entirely
    from kept views costs no thread hop; at the first blocking step (a database session, a
    statement, a Redis read, heavy work) it stops and runs again in the worker pool."""
    setattr(fn, _LOOP_FIRST, True)
    return fn


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


class PortalState(rx.State, mixin=True):
    @classmethod
    @_overrides
    def _create_event_handler(cls, fn: Any, event_handler_cls: Any = None) -> Any:
        wrapped = _in_worker(fn)
        if event_handler_cls is None:
            return super()._create_event_handler(wrapped)
        return super()._create_event_handler(wrapped, event_handler_cls)

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
            if getattr(self, name) != value:
                setattr(self, name, value)
