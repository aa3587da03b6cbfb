"""CPU-heavy work (argon2, PDFs, zips, embeddings) runs in worker threads, never on the event
loop; but each holds a core (and, in pure Python, the GIL) for tens of milliseconds, and on a
small machine a dozen at once would starve the loop all the same. So at most
PORTAL_HEAVY_CONCURRENCY (default 2) run at once in a process; the others wait in their thread,
where waiting costs the loop nothing."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from portal.live.loop import blocking_point

HEAVY_CONCURRENCY = max(1, int(os.environ.get("PORTAL_HEAVY_CONCURRENCY", "2")))
_heavy = threading.BoundedSemaphore(HEAVY_CONCURRENCY)
_held = threading.local()
# How much less CPU priority than the event loop password hashing gets (Linux `nice` steps).
HASH_NICENESS = int(os.environ.get("PORTAL_HASH_NICENESS", "10"))
log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def _lower_priority() -> None:
    # Linux gives each thread its own nice value, and threads it starts (argon2's lanes)
    # inherit it: the event loop's thread keeps the CPU when both want it.
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + HASH_NICENESS))
    except (AttributeError, OSError):  # not Linux, or not allowed: same priority as before
        log.debug("could not lower the priority of a hashing thread", exc_info=True)


_hashing = ThreadPoolExecutor(max_workers=HEAVY_CONCURRENCY, thread_name_prefix="portal-hash",
                              initializer=_lower_priority if HASH_NICENESS > 0 else None)


def hashing(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a password hash (argon2: C code that releases the interpreter lock and runs its own
    threads) in a heavy slot, on threads with a lower CPU priority than the event loop, so that
    a burst of sign-ins on a small machine takes the CPU the loop does not need instead of
    stalling every socket. Blocking: call it from a worker thread."""
    with heavy():
        return _hashing.submit(fn, *args, **kwargs).result()


@contextlib.contextmanager
def heavy() -> Iterator[None]:
    blocking_point("heavy work")
    if getattr(_held, "depth", 0):  # already holding a slot in this thread (nested heavy work)
        yield
        return
    with _heavy:
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
