"""How the process allocates memory (glibc only; elsewhere nothing is done).

Reflex state handlers run in the portal's worker pool (`portal.live.runtime`), so a tab's state
tree is built and changed on several threads. glibc gives a thread that finds the arena it used
busy an arena of its own, up to eight per core, and memory freed in one arena serves only that
arena's later allocations: with a pool of threads, each arena keeps its own freed pages, and the
process holds several times what it uses at the peak. `PORTAL_MALLOC_ARENAS` (2 by default)
caps them; measured in `bench/live_memory.py` (bench/README.md, "2026-12-06 (early)"): about 9 KiB
less per connected customer, the bare Reflex app unchanged. Small objects (Python's own
allocator, under the interpreter lock) are not affected; only larger blocks share the arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # <malloc.h>


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas at `count` for threads that start from now on (0: leave the
    default). Returns whether the cap was set."""
    if count <= 0:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(_M_ARENA_MAX, count))
    if not ok:
        log.warning("mallopt(M_ARENA_MAX, %d) was refused; glibc's default arenas stay", count)
    return ok


def freeze_startup_objects() -> int:
    """Move every object alive now (the app's compiled pages, state classes, modules, the search
    caches) out of the collector's sight, and return how many there are.

    CPython's full collection walks every tracked object. In a started portal that is about 210,000
    objects, and each full collection took 100-150 ms with the interpreter lock held, on whichever
    thread triggered it: the event loop's included, so every socket of the worker waited that long
    (`bench/README.md`, "2026-12-06 (day)"). These objects live as long as the process; frozen, a full
    collection walks only what was made since (tab states, requests' garbage). Done once, after the
    warm-up, with one collection first so that start-up's garbage is not kept."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
