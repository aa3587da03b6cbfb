"""The production server as `make run` starts it (`reflex run --env prod`), backend only,
with as many workers as the deployment asks for: one on the embedded default, two on
PostgreSQL + Redis (CI's second run), where any worker may hold any socket."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.domain import auth
from portal.settings import get_settings
from portal.state.dashboard import DashboardState
from tests.factories import make_customer, make_order
from tests.support.aio import run_async
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

WORKERS = 2 if os.environ.get("REFLEX_REDIS_URL") else 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(engine: Engine, root_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "GRANIAN_WORKERS": str(WORKERS), "REFLEX_USE_SYSTEM_BUN": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--backend-only",
         "--backend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=root_dir, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server did not start:\n{out[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_runs_the_configured_number_of_workers(server: str) -> None:
    me = psutil.Process()
    procs = [p for p in psutil.process_iter(["cmdline"])
             if p.info["cmdline"] and "--backend-only" in p.info["cmdline"] and p.pid != me.pid]
    assert len(procs) >= WORKERS + 1  # the supervisor and its workers


def test_every_connection_sees_only_its_owner_whichever_worker_holds_it(server: str, db: Session) -> None:
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_order, b_order = make_order(db, ca), make_order(db, cb)
    cookies = {}
    for who, user in (("a", ua), ("b", ub)):
        ticket = auth.issue_login_ticket(db, user=user)
        db.commit()
        # The browser's path: trade the one-time ticket for the HttpOnly cookie over HTTP.
        r = httpx.get(f"{server}/api/auth/session", params={"ticket": ticket}, follow_redirects=False)
        assert r.status_code == 303
        cookies[who] = f"{get_settings().session_cookie_name}={r.cookies[get_settings().session_cookie_name]}"

    async def many() -> list[tuple[str, str]]:
        async def one(who: str) -> tuple[str, str]:
            async with ReflexClient(server, cookie=cookies[who]) as c:
                return who, deltas_text(await c.send(handler_name(DashboardState.load), settle=1.5))

        return await asyncio.gather(*(one("a" if i % 2 else "b") for i in range(8)))

    for who, text in run_async(many()):
        mine, theirs = (a_order, b_order) if who == "a" else (b_order, a_order)
        assert mine.number in text and theirs.number not in text
