"""The scale-out topology for real: two `reflex run --env prod` instances on their own ports
behind nginx, sharing PostgreSQL and Redis. Runs only where both are configured (CI's second
run); it uses Redis database 13 so it never mixes with other users of the same server.

Proves: live updates reach a customer whichever instance holds their socket; an instance
killed in the middle of traffic loses no committed write (clients retry with the same
Idempotency-Key through nginx); the customer's session carries on through nginx on the
surviving instance without signing in again; scheduled jobs ran once per tick.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from portal.deploy import scaleout
from portal.deploy.scaleout import Supervisor, Topology
from portal.domain import auth
from portal.models import Customer, JobRun, Order
from portal.settings import get_settings
from portal.state.dashboard import DashboardState
from tests.deploy.test_scaleout import consecutive_free_ports, free_ports
from tests.factories import make_customer
from tests.factories_api import make_api_key, order_body
from tests.support.aio import run_async
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name, redirects

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgresql") and os.environ.get("REFLEX_REDIS_URL")
         and NGINX),
    reason="needs DATABASE_URL (PostgreSQL), REFLEX_REDIS_URL and nginx",
)
REDIS_DB = 13
_IGNORE = shutil.ignore_patterns(".git", ".venv", ".data", "__pycache__", ".pytest_cache", ".mypy_cache",
                                 ".ruff_cache", ".states")


@pytest.fixture(scope="module")
def running(engine: Engine, root_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Supervisor]]:
    # A copy of the app, so the instances' frontend build (pointing at nginx) never replaces the
    # one the browser tests serve from the project's .web.
    work = tmp_path_factory.mktemp("scale-out")
    app_dir = work / "app"
    shutil.copytree(root_dir, app_dir, ignore=_IGNORE, symlinks=True)
    t = Topology(instances=2, base_port=consecutive_free_ports(2), nginx_port=free_ports(1)[0], run_dir=work / "run")
    env = {**os.environ, "REFLEX_REDIS_URL": scaleout.redis_url_with_db(os.environ["REFLEX_REDIS_URL"], REDIS_DB),
           "PORTAL_DATA_DIR": str(work / "data")}
    sup = Supervisor(t, env=env, nginx=NGINX, cwd=app_dir)
    try:
        sup.start(timeout=900)
    except (RuntimeError, TimeoutError, OSError):
        sup.stop()
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(t.run_dir.glob("*.log")))
        raise RuntimeError(f"topology did not start:\n{logs}") from None
    try:
        yield t, sup
    finally:
        sup.stop()


def _cookie(db: Session, base_url: str, user: Any) -> str:
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    r = httpx.get(f"{base_url}/api/auth/session", params={"ticket": ticket}, follow_redirects=False)
    assert r.status_code == 303
    name = get_settings().session_cookie_name
    return f"{name}={r.cookies[name]}"


def _customer(db: Session, external_id: str) -> tuple[Any, Customer]:
    user, customer = make_customer(db)
    customer.external_id = external_id
    db.add(customer)
    db.commit()
    return user, customer


def test_live_update_reaches_the_socket_on_the_other_instance(running: tuple[Topology, Supervisor],
                                                              db: Session) -> None:
    topology, _ = running
    user, _ = _customer(db, "crm-live")
    _, key = make_api_key(db, "orders:write")
    cookie = _cookie(db, topology.public_url, user)

    async def scenario() -> str:
        # The customer's socket is on instance 1; the shop writes through instance 0.
        async with ReflexClient(topology.instance_url(1), cookie=cookie) as c:
            await c.send(handler_name(DashboardState.load), settle=1.5)
            async with httpx.AsyncClient() as http:
                r = await http.put(f"{topology.instance_url(0)}/api/v1/orders/FH-LIVE-1", json=order_body("crm-live"),
                                   headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 201, r.text
            deadline = time.monotonic() + 15
            while "FH-LIVE-1" not in deltas_text(c.updates) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            return deltas_text(c.updates)

    assert "FH-LIVE-1" in run_async(scenario())


def test_killed_instance_loses_no_committed_write_and_the_session_carries_on(running: tuple[Topology, Supervisor],
                                                                            db: Session) -> None:
    topology, sup = running
    user, _ = _customer(db, "crm-kill")
    _, key = make_api_key(db, "orders:write")
    cookie = _cookie(db, topology.public_url, user)
    acknowledged: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=topology.public_url, timeout=10) as http:
        for i in range(30):
            if i == 10:
                sup.kill_instance(0)  # mid-traffic, no graceful shutdown
            number = f"FH-KILL-{i}"
            for _attempt in range(10):
                try:
                    r = http.put(f"/api/v1/orders/{number}", json=order_body("crm-kill"),
                                 headers={**headers, "Idempotency-Key": f"kill-{i}"})
                except httpx.HTTPError:
                    time.sleep(0.5)
                    continue
                if r.status_code in (200, 201):
                    acknowledged.append(number)
                    break
                assert r.status_code >= 500, r.text  # only lost connections are retried
                time.sleep(0.5)
    # Every acknowledged write is in the database, exactly once
    assert len(acknowledged) == 30
    stored = set(db.exec(select(Order.number).where(Order.number.startswith("FH-KILL-"))).all())  # type: ignore[attr-defined]
    assert stored == set(acknowledged)

    # The customer's browser reconnects through nginx (to the survivor) with the same cookie
    async def reconnect() -> list[dict[str, Any]]:
        async with ReflexClient(topology.public_url, cookie=cookie) as c:
            return await c.send(handler_name(DashboardState.load), settle=2.0)

    updates = run_async(reconnect())
    assert "FH-KILL-29" in deltas_text(updates)
    assert not any(r.startswith("/login") for r in redirects(updates))

    # Scheduled jobs: one run per (job, tick), whichever instance's scheduler fired
    dupes = db.exec(select(JobRun.name, JobRun.tick, func.count()).group_by(JobRun.name, JobRun.tick)
                    .having(func.count() > 1)).all()
    assert dupes == []
