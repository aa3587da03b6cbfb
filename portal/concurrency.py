"""CPU-heavy work (argon2, PDFs, zips, embeddings) never runs on the event loop; but each holds a
core for tens of milliseconds, and on a small machine a dozen at once would starve the loop all the
same. So at most PORTAL_HEAVY_CONCURRENCY (default 2) run at once in a process; the others wait in
their thread, where waiting costs the loop nothing.

Password hashing and the pure-Python documents (laying out a PDF, writing a data export's JSON)
run in `in_process`: a small pool of child processes, started from a clean fork server. In a
thread of the server's process such work would take the interpreter lock from the event loop in
turns, and a thread kept waiting for the CPU while it holds that lock would hold the loop up too.
The children share no lock with the loop, and they are a scheduling group of their own (a session
of their own: Linux groups a session's processes, "autogroups", and shares the CPU between groups
first), with PORTAL_HASH_NICENESS less priority: the server's group, which is only the loop and
its threads, stays light, so the kernel gives it the CPU as soon as a socket wakes it, instead of
counting every hash and PDF against it."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from portal.live.loop import blocking_point
from portal.settings import early

HEAVY_CONCURRENCY = max(1, int(early("PORTAL_HEAVY_CONCURRENCY", "2")))
_heavy = threading.BoundedSemaphore(HEAVY_CONCURRENCY)
_held = threading.local()
# How much less CPU priority than the event loop the heavy processes (password hashing,
# documents) get, in Linux `nice` steps: for each process and for their scheduling group.
HASH_NICENESS = int(early("PORTAL_HASH_NICENESS", "10"))
# Pure-Python heavy work in child processes (see `in_process`); "0" keeps it in the calling thread.
HEAVY_PROCESSES = early("PORTAL_HEAVY_PROCESSES", "1").strip().lower() not in {"0", "false", "no", "off"}


def cpu_list(spec: str, *, name: str = "PORTAL_HEAVY_CPUS") -> frozenset[int]:
    """The CPUs of a Linux CPU list ("3", "2-3", "0,2-5"), each one this process may run on; ""
    gives the empty set (no restriction). Anything else is refused, naming the setting."""
    spec = spec.strip()
    if not spec:
        return frozenset()
    cpus: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"{name}: {part!r} is not a CPU number or range (e.g. 3, 2-3, 0,2-5)") from None
        if low < 0 or high < low:
            raise ValueError(f"{name}: {part!r} is not a CPU range (e.g. 2-3)")
        cpus.update(range(low, high + 1))
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError(f"{name}: this system cannot keep processes on given CPUs (Linux can)")
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        raise ValueError(f"{name}: CPU {min(cpus - allowed)} is not one this server may run on "
                         f"({', '.join(map(str, sorted(allowed)))})")
    return frozenset(cpus)


# The CPUs the heavy processes are kept on (a Linux CPU list, e.g. "2-7"; empty: any). On a machine
# with cores to spare, the heavy work then never takes the cores left to the web workers' event
# loops, as a separate tier of job workers would not.
HEAVY_CPUS = cpu_list(early("PORTAL_HEAVY_CPUS", ""))
log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def hashing(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a password hash (argon2, `fn` a module-level function of a module the children can
    import) in a heavy child process (`in_process`), so that a burst of sign-ins takes the CPU the
    loop does not need instead of stalling every socket. Blocking: call it from a worker thread."""
    return in_process(fn, *args, **kwargs)


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
# and the password hasher loaded (a child is forked from it: no threads, no open database handles
# of the server's).
PRELOAD = ["portal.integrations.pdf", "portal.domain.pwhash"]
# Children idle this long exit (each holds ~100 MB); the next call forks new ones from the fork
# server, which has the code loaded already (milliseconds).
IDLE_SECONDS = float(early("PORTAL_HEAVY_IDLE_SECONDS", "60"))
_processes: ProcessPoolExecutor | None = None
_processes_lock = threading.Lock()
_busy = 0  # calls under way in _processes
_idle_timer: threading.Timer | None = None


def _child_start(niceness: int, server_pid: int, cpus: frozenset[int] = frozenset()) -> None:
    _exit_with(server_pid)
    if cpus:
        os.sched_setaffinity(0, cpus)
    if niceness <= 0:
        return
    # A session of its own, so a scheduling group of its own where the kernel groups sessions
    # (autogroups): the CPU the children take is not counted against the server's group.
    with contextlib.suppress(OSError):
        os.setsid()
    # The group's priority too, where the kernel has autogroups (elsewhere the niceness below alone).
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(niceness))
    with contextlib.suppress(OSError):  # not allowed: the server's priority
        os.nice(niceness)


def _exit_with(server_pid: int) -> None:
    """Exit when the server process that started the pool does (killed, crashed): a child waits on
    its call queue, which never closes (the child holds both ends), and in a session of its own no
    signal to the server's process group reaches it either."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(server_pid)
        except (AttributeError, OSError):  # not Linux 5.3+: look every second
            while True:
                time.sleep(1)
                try:
                    os.kill(server_pid, 0)
                except ProcessLookupError:
                    break
        else:
            select.select([fd], [], [])  # readable once that process has exited
        os._exit(0)

    threading.Thread(target=watch, name="portal-heavy-watch", daemon=True).start()


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
            _processes = ProcessPoolExecutor(max_workers=HEAVY_CONCURRENCY, mp_context=ctx, initializer=_child_start,
                                             initargs=(HASH_NICENESS, os.getpid(), HEAVY_CPUS))
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

