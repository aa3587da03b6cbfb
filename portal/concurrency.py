"""CPU-heavy work (argon2, PDFs, zips, embeddings) runs in worker threads, never on the event
loop; but each holds a core (and, in pure Python, the GIL) for tens of milliseconds, and on a
small machine a dozen at once would starve the loop all the same. So at most
PORTAL_HEAVY_CONCURRENCY (default 2) run at once in a process; the others wait in their thread,
where waiting costs the loop nothing.

Work that is pure Python (laying out a PDF, writing a data export's JSON) holds the interpreter
lock for as long as it runs: in a thread of the server's process it takes that lock from the
event loop in turns, so every socket of the worker waits while a statement is drawn. Such work
runs in `in_process`: a small pool of child processes (started from a clean fork server, at a
lower CPU priority), which share neither the lock nor the priority of the loop."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from portal.live.loop import blocking_point

HEAVY_CONCURRENCY = max(1, int(os.environ.get("PORTAL_HEAVY_CONCURRENCY", "2")))
_heavy = threading.BoundedSemaphore(HEAVY_CONCURRENCY)
_held = threading.local()
# How much less CPU priority than the event loop password hashing and the document processes get
# (Linux `nice` steps).
HASH_NICENESS = int(os.environ.get("PORTAL_HASH_NICENESS", "10"))
# Pure-Python heavy work in child processes (see `in_process`); "0" keeps it in the calling thread.
HEAVY_PROCESSES = os.environ.get("PORTAL_HEAVY_PROCESSES", "1").strip().lower() not in {"0", "false", "no", "off"}
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


# -- pure-Python heavy work in child processes --------------------------------------------------------

# What the fork server imports once, so that each child starts with the PDF code and fonts' parser
# loaded (a child is forked from it: no threads, no open database handles of the server's).
PRELOAD = ["portal.integrations.pdf"]
# Children idle this long exit (each holds ~100 MB); the next call forks new ones from the fork
# server, which has the code loaded already (milliseconds).
IDLE_SECONDS = float(os.environ.get("PORTAL_HEAVY_IDLE_SECONDS", "60"))
_processes: ProcessPoolExecutor | None = None
_processes_lock = threading.Lock()
_busy = 0  # calls under way in _processes
_idle_timer: threading.Timer | None = None


def _child_start(niceness: int) -> None:
    if niceness > 0:
        with contextlib.suppress(OSError):  # not allowed: the server's priority
            os.nice(niceness)


def _run_in_language(lang: str, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    from portal.i18n import use_language

    use_language(lang)  # the caller's language: a document's own words ("Page 1 of 2") are theirs
    return fn(*args, **kwargs)


def _pool() -> ProcessPoolExecutor:
    """The pool, with one more call counted as under way (see `_done`)."""
    global _processes, _busy, _idle_timer
    with _processes_lock:
        _busy += 1
        if _idle_timer is not None:
            _idle_timer.cancel()
            _idle_timer = None
        if _processes is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _processes = ProcessPoolExecutor(max_workers=HEAVY_CONCURRENCY, mp_context=ctx,
                                             initializer=_child_start, initargs=(HASH_NICENESS,))
        return _processes


def _done() -> None:
    """A call ended: when none is under way, the children exit after IDLE_SECONDS unless used."""
    global _busy, _idle_timer
    with _processes_lock:
        _busy -= 1
        if _busy == 0 and _processes is not None and IDLE_SECONDS > 0:
            _idle_timer = threading.Timer(IDLE_SECONDS, _stop_if_idle, args=(_processes,))
            _idle_timer.daemon = True
            _idle_timer.start()


def _stop_if_idle(pool: ProcessPoolExecutor) -> None:
    global _processes
    with _processes_lock:
        if _processes is not pool or _busy:
            return
        _processes = None
    pool.shutdown(wait=False)


def start_fork_server() -> None:
    """Start the fork server now (it imports the PDF code once), not on the first download: its
    start forks this big process and spawns the resource tracker, which is better done before
    anyone is served. The children themselves still start on first use. Blocking."""
    if HEAVY_PROCESSES:
        from multiprocessing import forkserver

        multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
        forkserver.ensure_running()


def _discard(pool: ProcessPoolExecutor) -> None:
    global _processes
    with _processes_lock:
        if _processes is pool:
            _processes = None
    pool.shutdown(wait=False, cancel_futures=True)


def in_process(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` (a module-level function; arguments and result are pickled) in a heavy slot, in
    one of the child processes, in the caller's language; its exception is raised here. A child
    that died (killed, out of memory) is replaced and the call tried once more. Blocking: call it
    from a worker thread. With PORTAL_HEAVY_PROCESSES=0 it runs in this thread instead."""
    from portal.i18n import current_language

    with heavy():
        if not HEAVY_PROCESSES:
            return fn(*args, **kwargs)
        lang = current_language()
        for attempt in range(2):
            pool = _pool()
            try:
                return pool.submit(_run_in_language, lang, fn, args, kwargs).result()
            except BrokenProcessPool:
                _discard(pool)
                if attempt:
                    raise
                log.warning("a document process died; starting another", exc_info=True)
            finally:
                _done()
        raise AssertionError("unreachable")

