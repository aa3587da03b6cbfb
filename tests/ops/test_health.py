"""Health over real HTTP as a load balancer asks: live while the process answers; ready only when
the database is reachable and at the migration head, Redis (when configured) answers and the
scheduler (when jobs are on) runs; otherwise 503 with the reasons. /api/health keeps its figures."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine

from tests.support.databases import alembic_on
from tests.support.live_api import serve_api
from tests.support.ports import free_port


def test_a_healthy_portal_is_live_and_ready(engine: Engine, root_dir: Path) -> None:
    with serve_api(root_dir) as api:
        live = httpx.get(f"{api.url}/api/health/live", timeout=10)
        ready = httpx.get(f"{api.url}/api/health/ready", timeout=10)
        health = httpx.get(f"{api.url}/api/health", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    redis = "ok" if os.environ.get("REFLEX_REDIS_URL") else "off"
    assert ready.json() == {"status": "ok", "database": "ok", "schema": "ok", "redis": redis, "scheduler": "off"}
    assert health.status_code == 200 and "loop_first" in health.json()  # outside production, as before


def test_a_portal_that_cannot_serve_is_live_but_not_ready_and_says_why(tmp_path: Path, root_dir: Path) -> None:
    # Its own database one migration behind, a Redis nobody listens on, jobs on but no scheduler
    # running (this server runs no lifespan).
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    eng = create_engine(f"sqlite:///{data / 'portal.db'}")
    alembic_on(eng, "upgrade", "head")
    alembic_on(eng, "downgrade", "-1")
    eng.dispose()
    env = {"PORTAL_DATA_DIR": str(data), "DATABASE_URL": "", "JOBS_ENABLED": "true",
           "REFLEX_REDIS_URL": f"redis://127.0.0.1:{free_port()}"}
    with serve_api(root_dir, env) as api:
        live = httpx.get(f"{api.url}/api/health/live", timeout=10)
        ready = httpx.get(f"{api.url}/api/health/ready", timeout=10)
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert (body["status"], body["schema"], body["redis"], body["scheduler"]) == (
        "not ready", "behind", "unreachable", "stopped")
    reasons = " | ".join(body["reasons"])
    assert "python -m portal.manage migrate" in reasons and "redis unreachable" in reasons
    assert "scheduler not running" in reasons
