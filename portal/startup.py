"""What the server checks before it serves: the configuration and the database's schema.

Registered as the first lifespan task: a server whose settings are wrong, or whose database is
not at the migration head, stops at start with one line saying what to do, instead of failing
later on some request.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


class StartupRefused(RuntimeError):
    """Raised with the one line that explains why the server does not start."""


def refuse(line: str) -> StartupRefused:
    print(f"portal: {line}", file=sys.stderr, flush=True)
    return StartupRefused(f"portal: {line}")


def check_schema() -> None:
    from portal.db import get_engine
    from portal.schema import schema_problem

    try:
        problem = schema_problem(get_engine())
    except Exception as exc:  # noqa: BLE001 - told in one line, not a stack trace
        raise refuse(f"cannot reach the database of DATABASE_URL ({type(exc).__name__}): {exc}".splitlines()[0]) \
            from None
    if problem:
        raise refuse(f"not starting: {problem}")


@contextlib.asynccontextmanager
async def startup_lifespan() -> AsyncIterator[None]:
    await run_in_threadpool(check_schema)
    yield


def warm_search() -> None:
    """The help center's search caches, built before the first reader asks (kb.warm)."""
    from portal.db import session_scope
    from portal.domain import kb

    try:
        with session_scope() as db:
            if kb.warm(db):
                log.info("help-center search caches built at start")
    except Exception:  # a search builds them itself later; the server starts anyway
        log.warning("could not build the help-center search caches at start", exc_info=True)


def warm_documents() -> None:
    """The fork server of the document processes (concurrency.start_fork_server)."""
    from portal import concurrency

    try:
        concurrency.start_fork_server()
    except Exception:  # the first PDF starts it instead
        log.warning("could not start the document processes' fork server", exc_info=True)


def warm() -> None:
    warm_documents()
    warm_search()
    from portal.settings import get_settings

    if get_settings().portal_gc_freeze:
        from portal.memory import freeze_startup_objects

        log.info("%d objects of the started server frozen out of garbage collection", freeze_startup_objects())


@contextlib.asynccontextmanager
async def warm_lifespan() -> AsyncIterator[None]:
    """Starts warm (the document fork server, then the search caches, then the objects of the
    started server frozen: portal.memory.freeze_startup_objects) in a thread of its own and
    serves meanwhile: a search that comes first waits on the same caches' locks, no longer than it
    would have."""
    threading.Thread(target=warm, name="portal-warm", daemon=True).start()
    yield
