"""APScheduler in every worker; a lease per job and a unique (job, tick) row elect the one that
runs each tick.

Reflex runs the lifespan tasks in every worker, and with several instances behind a load
balancer there are several schedulers too. Each firing computes the tick it belongs to
(floor(now / interval)), takes the job's lease (JobLease: free, or left to expire by a worker
that died) and inserts a JobRun row for the tick: the lease keeps a run that outlasts its
interval from overlapping the next, the unique constraint lets exactly one worker run each tick,
on SQLite and PostgreSQL alike, and the row records how the run went for admins. The holder
renews the lease while the job runs; a run left "running" under an expired lease is marked
interrupted by the next worker to take it. On shutdown running jobs get a grace period, then are
cancelled and marked interrupted.
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
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal import logs, metrics
from portal.db import session_scope, utcnow
from portal.models import JobLease, JobRun
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


def _lease_seconds() -> timedelta:
    return timedelta(seconds=get_settings().jobs_lease_seconds)


def _take_lease(db: Session, name: str, now: datetime) -> bool:
    """Take the job's lease if nobody holds it, or if its holder stopped renewing it. PostgreSQL:
    the free row is locked with SKIP LOCKED (a worker taking it at this moment is passed over,
    not waited for); SQLite: one conditional UPDATE, atomic under its single writer."""
    table = JobLease.__table__  # type: ignore[attr-defined]
    free = or_(col(JobLease.until).is_(None), col(JobLease.until) < now)
    values = {"holder": _worker_id(), "until": now + _lease_seconds()}
    if db.get_bind().dialect.name == "postgresql":
        db.execute(postgresql.insert(table).values(name=name, holder="").on_conflict_do_nothing())
        row = db.exec(select(JobLease).where(JobLease.name == name, free).with_for_update(skip_locked=True)).first()
        if row is None:
            return False
        db.execute(update(JobLease).where(col(JobLease.name) == name).values(**values))
        return True
    db.execute(sqlite.insert(table).values(name=name, holder="").on_conflict_do_nothing())
    res = db.execute(update(JobLease).where(col(JobLease.name) == name, free).values(**values))
    return bool(getattr(res, "rowcount", 0))


def claim(name: str, tick: int) -> int | None:
    """Take the job's lease and insert the run row for this tick; None when another worker runs
    the job now or already ran this tick. A run still marked running under a lease that ran out
    was left by a worker that died: it is marked interrupted."""
    now = utcnow()
    try:
        with session_scope() as db:
            if not _take_lease(db, name, now):
                return None
            db.execute(update(JobRun).where(col(JobRun.name) == name, col(JobRun.status) == "running")
                       .values(status="interrupted", finished_at=now,
                               detail="interrupted: the worker running it stopped renewing its lease"))
            row = JobRun(name=name, tick=tick, worker=_worker_id())
            db.add(row)
            db.flush()
            db.execute(update(JobLease).where(col(JobLease.name) == name).values(run_id=row.id))
            return row.id
    except IntegrityError:
        return None


def renew(run_id: int) -> bool:
    """Extend the lease of a run in progress; False when it is no longer this run's."""
    with session_scope() as db:
        res = db.execute(update(JobLease).where(col(JobLease.run_id) == run_id)
                         .values(until=utcnow() + _lease_seconds()))
        return bool(getattr(res, "rowcount", 0))


def finish(run_id: int, *, status: str, detail: str = "") -> None:
    """Record how the run ended and give its lease back, in one transaction."""
    with session_scope() as db:
        row = db.get(JobRun, run_id)
        if row is not None:
            row.finished_at = utcnow()
            row.status = status
            row.detail = detail[:1000]
            db.add(row)
        db.execute(update(JobLease).where(col(JobLease.run_id) == run_id).values(holder="", until=None))


async def _keep_lease(name: str, run_id: int) -> None:
    pace = max(get_settings().jobs_lease_seconds / 3, 0.5)
    while True:
        await asyncio.sleep(pace)  # a heartbeat's pace, not a wait for a condition
        if not await asyncio.to_thread(renew, run_id):
            log.warning("job %s lost its lease (run %s)", name, run_id)
            return


# The runs this process has in progress, for a clean shutdown.
_running: set[asyncio.Task[Any]] = set()


async def run_tick(spec: JobSpec, *, now: float | None = None) -> bool:
    """Run the job for the current tick if this worker wins it. Returns whether it ran."""
    tick = int((now if now is not None else time.time()) // spec.seconds)
    task = asyncio.current_task()
    if task is not None:
        _running.add(task)  # before the claim: a stop waits for (or cancels) the claim too
    claiming = asyncio.ensure_future(asyncio.to_thread(claim, spec.name, tick))
    try:
        run_id = await asyncio.shield(claiming)
    except asyncio.CancelledError:
        # Stopped while claiming: the claim's transaction runs to its end in its thread; a run it
        # recorded is recorded as interrupted, not left "running" until another start finds it.
        run_id = await claiming
        if run_id is not None:
            await asyncio.to_thread(finish, run_id, status="interrupted",
                                    detail="interrupted: the portal stopped while it ran")
        _running.discard(task)  # type: ignore[arg-type]
        raise
    if run_id is None:
        _running.discard(task)  # type: ignore[arg-type]
        return False
    beat = asyncio.create_task(_keep_lease(spec.name, run_id))
    status, detail = "interrupted", "interrupted: the portal stopped while it ran"
    try:
        with logs.unit(job=spec.name):  # every line the job writes says which job (and run) it is
            result = await spec.fn()
    except Exception as exc:
        log.exception("job %s failed (run %s)", spec.name, run_id, extra={"job": spec.name, "ref": f"run-{run_id}"})
        status, detail = "failed", repr(exc)
    else:
        status, detail = "ok", "" if result is None else str(result)
    finally:
        beat.cancel()
        _running.discard(task)  # type: ignore[arg-type]
        metrics.JOB_RUNS.labels(job=spec.name, status=status).inc()
        # Recorded even when the task is being cancelled (shutdown): shielded from a second cancel.
        await asyncio.shield(asyncio.to_thread(finish, run_id, status=status, detail=detail))
    return True


def prune() -> str:
    """Housekeeping: job history older than JOBS_KEEP_DAYS, throttle counters past their window."""
    from portal.domain import throttle

    keep = timedelta(days=get_settings().jobs_keep_days)
    with session_scope() as db:
        res = db.execute(delete(JobRun).where(col(JobRun.started_at) < utcnow() - keep,
                                              col(JobRun.status) != "running"))
        runs = int(getattr(res, "rowcount", 0) or 0)
        throttles = throttle.purge(db)
    return f"{runs} job runs, {throttles} throttle counters"


async def _prune() -> str:
    return await asyncio.to_thread(prune)


# The scheduler of this process, and when its heartbeat last ran (readiness: "scheduler alive").
HEARTBEAT_SECONDS = 5
_sched: Any = None
_alive_at: float | None = None


async def _heartbeat() -> None:
    global _alive_at
    _alive_at = time.monotonic()


def scheduler_state() -> str:
    """"off" (JOBS_ENABLED=false), "alive", or "stopped" (not started, shut down or stalled)."""
    if not get_settings().jobs_enabled:
        return "off"
    running = _sched is not None and _sched.running
    fresh = _alive_at is not None and time.monotonic() - _alive_at < 3 * HEARTBEAT_SECONDS
    return "alive" if running and fresh else "stopped"


def _load_job_modules() -> None:
    # Importing a module registers its jobs.
    import portal.jobs.mail
    import portal.jobs.orders
    import portal.jobs.sso
    import portal.jobs.support
    import portal.jobs.tracking
    import portal.jobs.webhooks  # noqa: F401
    from portal.jobs import mail_fetch
    from portal.simulator import embedded

    embedded.register_job()
    mail_fetch.register_job()


async def _stop(sched: Any) -> None:
    """No new runs; the running ones get JOBS_SHUTDOWN_GRACE_SECONDS to finish, then are cancelled
    (their rows say interrupted, their leases are given back)."""
    sched.pause()
    await asyncio.sleep(0)  # a run the scheduler started just before the pause registers itself
    loop = asyncio.get_running_loop()
    deadline = loop.time() + get_settings().jobs_shutdown_grace_seconds
    while running := [t for t in _running if not t.done()]:
        left = deadline - loop.time()
        if left <= 0:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            break
        await asyncio.wait(running, timeout=left)
    sched.shutdown(wait=False)


@contextlib.asynccontextmanager
async def scheduler_lifespan() -> AsyncIterator[None]:
    global _sched, _alive_at
    s = get_settings()
    if not s.jobs_enabled:
        yield
        return
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    _load_job_modules()
    specs = [*JOBS.values(), JobSpec(name="prune-history", seconds=s.jobs_prune_seconds, fn=_prune)]
    sched = AsyncIOScheduler(timezone="UTC")
    for spec in specs:
        sched.add_job(run_tick, "interval", seconds=spec.seconds, args=[spec], id=spec.name,
                      max_instances=1, coalesce=True, misfire_grace_time=spec.seconds)
    sched.add_job(_heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat", next_run_time=datetime.now(UTC))
    sched.start()
    _sched = sched
    try:
        yield
    finally:
        _sched, _alive_at = None, None
        await _stop(sched)
