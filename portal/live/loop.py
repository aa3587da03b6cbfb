"""Page loads tried on the event loop first, with blocking work refused there.

A page load that finds every answer it needs in the kept views (`portal.live.views`) does no
blocking work at all: sending it to the worker pool would only cost the hop (a queue, two
wake-ups, hand-overs of the interpreter lock), which is most of what such a load costs. A
handler marked `loop_first` (`portal.state.base`) is therefore tried on the loop first with
every blocking entry point armed: opening a database session, running any statement, taking a
heavy slot, or reading a shared counter that was not read before the try began raises
`NeedsWorker`, and the handler runs again from the start in the pool. Only handlers that read
into their state's fields (so that starting again is harmless) may be marked.

With several workers the view versions live in Redis, whose client blocks. So the try is
preceded by one read with the async client of the counters this handler read last time in this
tab (remembered wherever it ran); the try may use exactly those values, which are as fresh as a
read in the pool would have been. The guard reads them for the event's handler in the same
command as the session's epochs, a moment before (`hand_over_prefetched`), so that a page load
costs Redis one round trip, not two.

This module imports nothing of the portal, so the database layer can arm its entry point
without an import cycle.
"""

from __future__ import annotations

import contextvars
from collections import OrderedDict
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_ON_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("portal_on_loop", default=False)
# Shared counters (Redis) read for this try before it started, with the async client: the try
# may use exactly these and nothing else (see `prefetched`).
_PREFETCHED: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("portal_prefetched",
                                                                                     default=None)
# The shared counters a handler run read, wherever it ran, so the next try can read them first.
_READ: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("portal_counters_read", default=None)


class NeedsWorker(BaseException):
    """Raised on the loop where a loop-first handler would block; it runs in the pool instead.
    (A BaseException, so that no `except Exception` in a handler mistakes it for a failure.)"""


def blocking_point(what: str) -> None:
    """Call before blocking work: refuses it while a loop-first handler is being tried."""
    if _ON_LOOP.get():
        raise NeedsWorker(what)


# How the tries went, in this process (for /api/health outside production and the benchmarks).
stats = {"served_on_loop": 0, "sent_to_pool": 0}


def on_loop_attempt(prefetched: dict[str, int] | None, fn: Callable[P, T], /, *args: P.args,
                    **kwargs: P.kwargs) -> T:
    """`fn(...)` with the blocking entry points armed (see `blocking_point`); shared counters
    it reads must be among `prefetched`."""
    token = _ON_LOOP.set(True)
    ptoken = _PREFETCHED.set(prefetched)
    try:
        result = fn(*args, **kwargs)
    except NeedsWorker:
        stats["sent_to_pool"] += 1
        raise
    finally:
        _PREFETCHED.reset(ptoken)
        _ON_LOOP.reset(token)
    stats["served_on_loop"] += 1
    return result


def shared_counters_read(keys: tuple[str, ...]) -> tuple[int, ...] | None:
    """For a read of shared counters: on the loop, their prefetched values (or `NeedsWorker`
    when one was not prefetched); elsewhere None (read them now). Either way the keys are
    remembered for the next try of the same handler."""
    seen = _READ.get()
    if seen is not None:
        seen.update(keys)
    if not _ON_LOOP.get():
        return None
    known = _PREFETCHED.get()
    if known is None or any(k not in known for k in keys):
        raise NeedsWorker("shared counters")
    return tuple(known[k] for k in keys)


# The mark of a handler tried on the loop first (`portal.state.base.loop_first`).
LOOP_FIRST = "__portal_loop_first__"


def is_loop_first(fn: Callable[..., object]) -> bool:
    return bool(getattr(fn, LOOP_FIRST, False))


# Which shared counters each (tab, state, handler) read on its last run, so that its next try on
# the loop can read them first with the async client (a few thousand tabs' worth, newest kept).
HandlerKey = tuple[str, str]  # ("tab token|state full name", handler's qualified name)
_REMEMBERED: OrderedDict[HandlerKey, tuple[str, ...]] = OrderedDict()
_REMEMBERED_MAX = 20_000


def handler_key(origin: str, fn: Callable[..., object]) -> HandlerKey:
    """What the counters a handler read in a tab are remembered by (`origin`: "token|state")."""
    return origin, fn.__qualname__


def remembered_counters(key: HandlerKey) -> tuple[str, ...] | None:
    return _REMEMBERED.get(key)


def remember_counters(key: HandlerKey, seen: set[str]) -> None:
    _REMEMBERED[key] = tuple(sorted(seen))
    _REMEMBERED.move_to_end(key)
    while len(_REMEMBERED) > _REMEMBERED_MAX:
        _REMEMBERED.popitem(last=False)


# Counters the guard read for this event's handlers (the event's own, and the page loads that ride a
# navigation's event, see portal.state.arrival), with the session's epochs.
_HANDED_OVER: contextvars.ContextVar[dict[HandlerKey, dict[str, int]] | None] = contextvars.ContextVar(
    "portal_counters_handed_over", default=None)


def hand_over_prefetched(found: dict[HandlerKey, dict[str, int]]) -> None:
    """The guard read these counters for these handlers of this event: their tries may use them."""
    _HANDED_OVER.set(found)


def take_prefetched(key: HandlerKey) -> dict[str, int] | None:
    """What the guard read for this handler in this event, once; None if it read nothing for it."""
    found = _HANDED_OVER.get()
    if not found:
        return None
    return found.pop(key, None)


def recording_counters_read() -> tuple[set[str], contextvars.Token[set[str] | None]]:
    """Start remembering the shared counters read in this context (and its copies)."""
    seen: set[str] = set()
    return seen, _READ.set(seen)


def stop_recording(token: contextvars.Token[set[str] | None]) -> None:
    _READ.reset(token)


__all__ = ["LOOP_FIRST", "HandlerKey", "NeedsWorker", "blocking_point", "hand_over_prefetched", "handler_key",
           "is_loop_first", "on_loop_attempt",
           "recording_counters_read", "remember_counters", "remembered_counters", "shared_counters_read",
           "stop_recording", "take_prefetched"]
