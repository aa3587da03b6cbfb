"""APScheduler in every worker; a unique (job, tick) row elects the one that runs each tick.

Reflex runs the lifespan tasks in every worker, and with several instances behind a load
balancer there are several schedulers too. Each firing computes the tick it belongs to
(floor(now / interval)) and tries to insert a JobRun row for it: the database's unique
constraint lets exactly one insert succeed, on SQLite and PostgreSQL alike, and the row
records how the run went for admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete

from portal.db import session_scope, utcnow
from portal.models import JobRun
from portal.settings import get_settings

log = logging.getLogger(__name__)
JobFn = Callable[[], Awaitable[Any]]


@dataclasses.dataclass(frozen=True)
class JobSpec:
    name: str
    seconds: int
    fn: JobFn


JOBS: dict[str, JobSpec] = {}


def job(name: str, *, seconds: int) -> Callable[[JobFn], JobFn]:
    def register(fn: JobFn) -> JobFn:
        JOBS[name] = JobSpec(name=name, seconds=seconds, fn=fn)
        return fn

    return register


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(name: str, tick: int) -> int | None:
    """Insert the run row for this tick; None when another worker already has it."""
    try:
        with session_scope() as db:
            row = JobRun(name=name, tick=tick, worker=_worker_id())
            db.add(row)
            db.flush()
            return row.id
    except IntegrityError:
        return None


def finish(run_id: int, *, ok: bool, detail: str = "") -> None:
    with session_scope() as db:
        row = db.get(JobRun, run_id)
        if row is not None:
            row.finished_at = utcnow()
            row.status = "ok" if ok else "failed"
            row.detail = detail[:1000]
            db.add(row)


async def run_tick(spec: JobSpec, *, now: float | None = None) -> bool:
    """Run the job for the current tick if this worker wins it. Returns whether it ran."""
    tick = int((now if now is not None else time.time()) // spec.seconds)
    run_id = await asyncio.to_thread(claim, spec.name, tick)
    if run_id is None:
        return False
    try:
        result = await spec.fn()
    except Exception as exc:
        log.exception("job %s failed", spec.name)
        await asyncio.to_thread(finish, run_id, ok=False, detail=repr(exc))
    else:
        await asyncio.to_thread(finish, run_id, ok=True, detail="" if result is None else str(result))
    return True


def prune(older_than: timedelta = timedelta(days=7)) -> int:
    with session_scope() as db:
        res = db.exec(delete(JobRun).where(col(JobRun.started_at) < utcnow() - older_than))  # type: ignore[call-overload]
        return int(res.rowcount or 0)


def _load_job_modules() -> None:
    # Importing a module registers its jobs.
    import portal.jobs.mail
    import portal.jobs.sso
    import portal.jobs.support
    import portal.jobs.tracking  # noqa: F401
    from portal.simulator import embedded

    embedded.register_job()


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    if not get_settings().jobs_enabled:
        yield
        return
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    _load_job_modules()
    sched = AsyncIOScheduler(timezone="UTC")
    for spec in JOBS.values():
        sched.add_job(run_tick, "interval", seconds=spec.seconds, args=[spec], id=spec.name,
                      max_instances=1, coalesce=True, misfire_grace_time=spec.seconds)
    sched.add_job(lambda: asyncio.to_thread(prune), "interval", hours=6, id="prune-job-runs")
    sched.start()
    try:
        yield
    finally:
        sched.shutdown(wait=False)
