"""The scheduled jobs as the running portal runs them: the real server with its scheduler
lifespan (JOBS_ENABLED, short intervals through the settings). Housekeeping deletes old job
history and throttle counters past their window, a run left "running" by a worker that died is
marked interrupted and the job carries on, readiness reports the scheduler, and a stop leaves no
run "running" and no lease held."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from portal.db import utcnow
from portal.models import JobLease, JobRun, LoginThrottle
from tests.support.backend import serve_backend, wait_for

WORKERS = 2 if os.environ.get("REFLEX_REDIS_URL") else 1
JOB_ENV = {"JOBS_ENABLED": "true", "JOBS_PRUNE_SECONDS": "1", "JOBS_LEASE_SECONDS": "3",
           "CARRIER_SIMULATOR": "false"}


def _rows(engine: Engine) -> tuple[list[JobRun], set[str]]:
    with Session(engine) as s:
        return list(s.exec(select(JobRun)).all()), set(s.exec(select(LoginThrottle.key)).all())


def test_the_scheduler_prunes_recovers_a_dead_workers_run_and_stops_cleanly(
        db: Session, engine: Engine, root_dir: Path) -> None:
    now = utcnow()
    long_ago, hours_ago = now - timedelta(days=8), now - timedelta(hours=2)
    db.add_all([
        JobRun(name="send-mail", tick=1, started_at=long_ago, finished_at=long_ago, status="ok"),
        JobRun(name="send-mail", tick=2, status="ok", finished_at=now),  # recent: kept
        LoginThrottle(key="ip:203.0.113.1", failures=3, window_started_at=hours_ago),  # window over: purged
        LoginThrottle(key="ip:203.0.113.2", failures=1, window_started_at=now),  # in its window: kept
        LoginThrottle(key="acct:held@example.com", failures=9, window_started_at=hours_ago,
                      blocked_until=now + timedelta(minutes=10)),  # still blocking: kept
    ])
    # A worker died while running the housekeeping job: its row says running, its lease ran out.
    stale = JobRun(name="prune-history", tick=1, worker="gone:1", started_at=now - timedelta(minutes=1))
    db.add(stale)
    db.flush()
    db.add(JobLease(name="prune-history", holder="gone:1", run_id=stale.id, until=now - timedelta(seconds=1)))
    db.commit()

    with serve_backend(root_dir, JOB_ENV, workers=WORKERS) as backend:
        def pruned() -> list[JobRun] | None:
            runs, keys = _rows(engine)
            done = [r for r in runs if r.name == "prune-history" and r.status == "ok"]
            return runs if done and "ip:203.0.113.1" not in keys and all(r.tick != 1 or r.name != "send-mail"
                                                                       for r in runs) else None

        runs = wait_for(pruned, timeout=60, what="the housekeeping job to run through the scheduler")
        by_id = {r.id: r for r in runs}
        assert by_id[stale.id].status == "interrupted" and "lease" in by_id[stale.id].detail
        assert any(r.name == "send-mail" and r.tick == 2 for r in runs)  # recent history kept
        assert {"ip:203.0.113.2", "acct:held@example.com"} <= _rows(engine)[1]
        ready = httpx.get(f"{backend.url}/api/health/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["scheduler"] == "alive", ready.text

    # Stopped (SIGTERM): every run finished or was marked interrupted, and no lease is held.
    runs, _ = _rows(engine)
    assert [r.name for r in runs if r.status == "running"] == []
    with Session(engine) as s:
        assert [lease.name for lease in s.exec(select(JobLease)).all() if lease.until is not None] == []
