"""What the server checks before it serves: the configuration and the database's schema.

Registered as the first lifespan task: a server whose settings are wrong, or whose database is
not at the migration head, stops at start with one line saying what to do, instead of failing
later on some request.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool


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
