"""Exactly one run per tick, however many schedulers fire for it; no run overlaps the next; a dead
worker's run is recovered; shutdown lets jobs finish or marks them interrupted; queued mail is sent."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select, update

from portal.db import utcnow
from portal.domain.mail import queue_mail
from portal.jobs import mail as mail_job
from portal.jobs import scheduler
from portal.jobs.scheduler import JobSpec, run_tick
from portal.models import JobLease, JobRun, MailMessage
from portal.settings import get_settings, reset_settings_cache
from tests.support.aio import run_async


def test_many_workers_firing_for_one_tick_run_the_job_once(db: Session) -> None:
    calls: list[str] = []
    lock = threading.Lock()

    async def body() -> str:
        with lock:
            calls.append(threading.current_thread().name)
        return "done"

    spec = JobSpec(name="test-job", seconds=60, fn=body)

    async def eight_workers() -> list[bool]:
        # Eight schedulers fire at once for the same tick (as workers and instances do).
        return await asyncio.gather(*(run_tick(spec, now=6_000_030.0) for _ in range(8)))

    ran = run_async(eight_workers())
    assert ran.count(True) == 1 and len(calls) == 1
    # The next tick runs again, once.
    assert run_async(run_tick(spec, now=6_000_091.0)) is True
    runs = db.exec(select(JobRun).where(JobRun.name == "test-job")).all()
    assert sorted(r.tick for r in runs) == [100_000, 100_001]
    assert all(r.status == "ok" and r.detail == "done" for r in runs)


def test_a_failing_job_is_recorded_and_does_not_stop_the_scheduler(db: Session) -> None:
    async def broken() -> None:
        raise RuntimeError("carrier down")

    assert run_async(run_tick(JobSpec(name="broken", seconds=60, fn=broken), now=120.0)) is True
    row = db.exec(select(JobRun).where(JobRun.name == "broken")).one()
    assert row.status == "failed" and "carrier down" in row.detail


def test_queued_mail_is_sent_once(db: Session) -> None:
    queue_mail(db, to="ann@example.com", subject="Your parcel is out for delivery", body="It arrives today.")
    db.commit()
    assert mail_job.send_pending() == 1
    assert mail_job.send_pending() == 0
    msg = db.exec(select(MailMessage)).one()
    db.refresh(msg)
    assert msg.sent_at is not None and msg.attempts == 1
    files = list((Path(get_settings().portal_data_dir) / "mail").glob("*.eml"))
    assert any("Your parcel is out for delivery" in f.read_text() for f in files)


def test_a_run_longer_than_its_interval_does_not_overlap_the_next_tick(db: Session) -> None:
    started, release = threading.Event(), threading.Event()

    async def slow() -> str:
        started.set()
        await asyncio.to_thread(release.wait, 30)
        return "slow done"

    spec = JobSpec(name="slow-job", seconds=60, fn=slow)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(run_async, run_tick(spec, now=600.0))  # one worker runs tick 10 ...
        assert started.wait(30)
        # ... while the next tick fires on another worker: the lease is held, nothing runs.
        assert run_async(run_tick(spec, now=660.0)) is False
        release.set()
        assert first.result(timeout=30) is True
    # Once the first run gave its lease back, the following tick runs.
    assert run_async(run_tick(spec, now=720.0)) is True
    runs = db.exec(select(JobRun).where(JobRun.name == "slow-job")).all()
    assert sorted((r.tick, r.status) for r in runs) == [(10, "ok"), (12, "ok")]


def _stale_run(db: Session, *, lease_left: timedelta) -> int:
    run = JobRun(name="stale-job", tick=1, worker="gone:1")
    db.add(run)
    db.flush()
    assert run.id is not None
    db.add(JobLease(name="stale-job", holder="gone:1", run_id=run.id, until=utcnow() + lease_left))
    db.commit()
    return run.id


def test_a_run_left_by_a_dead_worker_is_marked_interrupted_once_its_lease_runs_out(db: Session) -> None:
    async def body() -> str:
        return "fresh"

    spec = JobSpec(name="stale-job", seconds=60, fn=body)
    # While the lease is still valid, its holder may be alive: nothing runs, nothing is touched.
    stale_id = _stale_run(db, lease_left=timedelta(minutes=1))
    assert run_async(run_tick(spec, now=180.0)) is False
    assert db.get(JobRun, stale_id).status == "running"  # type: ignore[union-attr]
    db.exec(update(JobLease).values(until=utcnow() - timedelta(seconds=1)))  # type: ignore[call-overload]
    db.commit()
    # Expired: the next worker takes the lease, marks the dead worker's run and runs.
    assert run_async(run_tick(spec, now=180.0)) is True
    db.expire_all()
    rows = {r.id: r for r in db.exec(select(JobRun).where(JobRun.name == "stale-job")).all()}
    assert rows.pop(stale_id).status == "interrupted"
    assert [(r.status, r.detail) for r in rows.values()] == [("ok", "fresh")]


def test_shutdown_lets_a_short_job_finish_and_marks_a_long_one_interrupted(
        db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBS_ENABLED", "true")
    monkeypatch.setenv("JOBS_SHUTDOWN_GRACE_SECONDS", "1")
    reset_settings_cache()

    async def scenario() -> None:
        started = {"short-job": asyncio.Event(), "long-job": asyncio.Event()}

        async def short() -> str:
            started["short-job"].set()
            await asyncio.sleep(0.3)  # stands for work that ends within the grace period
            return "finished"

        async def long() -> str:
            started["long-job"].set()
            await asyncio.sleep(600)  # stands for work that would outlast the grace period
            return "never"

        monkeypatch.setattr(scheduler, "_load_job_modules", lambda: None)
        monkeypatch.setattr(scheduler, "JOBS", {n: JobSpec(name=n, seconds=3600, fn=f)
                                                for n, f in (("short-job", short), ("long-job", long))})
        async with scheduler.scheduler_lifespan():
            for spec in scheduler.JOBS.values():
                scheduler._sched.modify_job(spec.name, next_run_time=datetime.now(UTC))
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 30)
            assert scheduler.scheduler_state() == "alive"
        assert scheduler.scheduler_state() == "stopped"

    try:
        run_async(scenario())
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    runs = {r.name: r for r in db.exec(select(JobRun)).all() if r.name in ("short-job", "long-job")}
    assert (runs["short-job"].status, runs["short-job"].detail) == ("ok", "finished")
    assert runs["long-job"].status == "interrupted" and runs["long-job"].finished_at is not None
    assert all(lease.until is None for lease in db.exec(select(JobLease)).all())


def test_a_stop_while_a_run_is_being_claimed_leaves_no_run_marked_running(
        db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler started a run just before the stop, and its claim (a transaction in a thread)
    is still on its way when the grace period ends: the claimed run is recorded as interrupted and
    its lease given back, not left "running" for the next start to find."""
    monkeypatch.setenv("JOBS_ENABLED", "true")
    monkeypatch.setenv("JOBS_SHUTDOWN_GRACE_SECONDS", "0.2")
    reset_settings_cache()
    real_claim = scheduler.claim
    claiming, release = threading.Event(), threading.Event()

    def slow_claim(name: str, tick: int) -> int | None:
        claiming.set()
        release.wait(30)  # until the stop has cancelled the run (below)
        return real_claim(name, tick)

    def release_once_cancelled() -> None:
        # The condition, not a fixed wait: the stop cancelled the run while it was claiming.
        while not any(t.cancelling() for t in list(scheduler._running)):
            threading.Event().wait(0.01)
        release.set()

    async def body() -> str:
        return "never reached"

    async def scenario() -> None:
        monkeypatch.setattr(scheduler, "_load_job_modules", lambda: None)
        monkeypatch.setattr(scheduler, "claim", slow_claim)
        monkeypatch.setattr(scheduler, "JOBS", {"claimed-job": JobSpec(name="claimed-job", seconds=3600, fn=body)})
        async with scheduler.scheduler_lifespan():
            scheduler._sched.modify_job("claimed-job", next_run_time=datetime.now(UTC))
            assert await asyncio.to_thread(claiming.wait, 30)
            watcher = threading.Thread(target=release_once_cancelled, daemon=True)
            watcher.start()

    try:
        run_async(scenario())
    finally:
        release.set()
        monkeypatch.undo()
        reset_settings_cache()
    db.expire_all()
    runs = db.exec(select(JobRun).where(JobRun.name == "claimed-job")).all()
    assert [(r.status, r.finished_at is not None) for r in runs] == [("interrupted", True)]
    assert all(lease.until is None for lease in db.exec(select(JobLease)).all())
