"""Exactly one run per tick, however many schedulers fire for it; queued mail is sent."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlmodel import Session, select

from portal.domain.mail import queue_mail
from portal.jobs import mail as mail_job
from portal.jobs.scheduler import JobSpec, run_tick
from portal.models import JobRun, MailMessage
from portal.settings import get_settings
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
