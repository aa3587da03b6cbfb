"""The production server as `make run` starts it (`reflex run --env prod`), backend only,
with as many workers as the deployment asks for: one on the embedded default, two on
PostgreSQL + Redis (CI's second run), where any worker may hold any socket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from portal.state.dashboard import DashboardState
from portal.state.staff import AgentConsoleState
from tests.factories import make_customer, make_order
from tests.support.aio import run_async
from tests.support.backend import Backend, serve_backend, session_cookie
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

WORKERS = 2 if os.environ.get("REFLEX_REDIS_URL") else 1


@pytest.fixture(scope="module")
def backend(engine: Engine, root_dir: Path) -> Iterator[Backend]:
    # JSON lines, as in production (which this test server is not: it keeps the test secrets).
    with serve_backend(root_dir, {"PORTAL_LOG_FORMAT": "json"}, workers=WORKERS) as backend:
        yield backend


@pytest.fixture(scope="module")
def server(backend: Backend) -> str:
    return backend.url


def test_runs_the_configured_number_of_workers(server: str) -> None:
    me = psutil.Process()
    procs = [p for p in psutil.process_iter(["cmdline"])
             if p.info["cmdline"] and "--backend-only" in p.info["cmdline"] and p.pid != me.pid]
    assert len(procs) >= WORKERS + 1  # the supervisor and its workers


def test_every_connection_sees_only_its_owner_whichever_worker_holds_it(server: str, db: Session) -> None:
    ua, ca = make_customer(db)
    ub, cb = make_customer(db)
    a_order, b_order = make_order(db, ca), make_order(db, cb)
    cookies = {who: session_cookie(server, db, user) for who, user in (("a", ua), ("b", ub))}

    async def many() -> list[tuple[str, str]]:
        async def one(who: str) -> tuple[str, str]:
            async with ReflexClient(server, cookie=cookies[who]) as c:
                return who, deltas_text(await c.send(handler_name(DashboardState.load)))

        return await asyncio.gather(*(one("a" if i % 2 else "b") for i in range(8)))

    for who, text in run_async(many()):
        mine, theirs = (a_order, b_order) if who == "a" else (b_order, a_order)
        assert mine.number in text and theirs.number not in text


def _log_records(backend: Backend) -> list[dict[str, Any]]:
    """What the server wrote (stdout and stderr): what an operator's log shipper reads."""
    records = []
    for line in backend.output().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def _wait_for_record(backend: Backend, match: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while not (found := [r for r in _log_records(backend) if match(r)]):
        assert time.monotonic() < deadline, backend.output()[-3000:]
        time.sleep(0.1)  # the poll's pace; the wait ends when the line is written
    return found


def test_an_unexpected_error_is_logged_once_with_the_reference_the_person_sees(
        server: str, backend: Backend, db: Session) -> None:
    user, _ = make_customer(db)
    cookie = session_cookie(server, db, user)

    async def fail_and_probe() -> tuple[re.Match[str], list[dict[str, Any]]]:
        async with ReflexClient(server, cookie=cookie) as tab:
            # An argument the handler does not take: the handler raises (a bug, as the server sees it)
            await tab.send(handler_name(DashboardState.load), {"surprise": 1})
            # Reflex answers the error from a task of its own: wait for the message the person sees
            deadline = time.monotonic() + 20
            while not (found := re.search(r"quote reference ([0-9a-f]{8})", json.dumps(tab.updates))):
                assert time.monotonic() < deadline, tab.updates
                await asyncio.sleep(0.05)  # the poll's pace; the wait ends when the message is here
            # A customer asking for the agent console: refused, and a warning says for whom
            refused = await tab.send(handler_name(AgentConsoleState.load), path="/agent")
            return found, refused

    found, refused = run_async(fail_and_probe())
    ref = found.group(1)
    # The line with that reference: once, as JSON, with the stack, the handler and the person's id
    lines = _wait_for_record(backend, lambda r: r.get("ref") == ref)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["level"] == "error" and "TypeError" in line["exception"] and "surprise" in line["exception"]
    assert line["handler"] == handler_name(DashboardState.load) and line["user_id"] == user.id
    assert line["event"] == ref
    # The stack is not written a second time by anything else
    assert sum("surprise" in str(r.get("exception", "")) + str(r.get("message", "")) for r in _log_records(
        backend)) == 1
    # A warning of the portal's own says who by id (the positive control for "never the email")
    assert "/login" not in json.dumps(refused)
    warned = _wait_for_record(backend, lambda r: r.get("user_id") == user.id and "refused event" in r["message"])
    assert warned[0]["level"] == "warning" and warned[0]["handler"] == handler_name(AgentConsoleState.load)
    assert user.email not in backend.output()


def test_every_http_answer_names_its_request(server: str, backend: Backend) -> None:
    kept = httpx.get(f"{server}/api/health", headers={"X-Request-ID": "lb-7f3a9c01"})
    assert kept.headers["x-request-id"] == "lb-7f3a9c01"
    # An id that could forge log lines is replaced by one of ours
    forged = httpx.get(f"{server}/api/health", headers={"X-Request-ID": "x\" evil"})
    assert re.fullmatch(r"[0-9a-f]{8}", forged.headers["x-request-id"])


def test_every_worker_keeps_its_started_objects_out_of_the_collectors_full_passes(backend: Backend) -> None:
    # Each worker, once warm, freezes what it started with (portal.memory.freeze_startup_objects): a
    # full collection then walks only what was made since, instead of ~200,000 objects for 100+ ms
    # with the event loop stopped.
    def frozen_lines() -> list[dict[str, Any]]:
        return [r for r in _log_records(backend) if "frozen out of garbage collection" in r["message"]]

    deadline = time.monotonic() + 60
    while len(frozen := frozen_lines()) < WORKERS:
        assert time.monotonic() < deadline, backend.output()[-3000:]
        time.sleep(0.1)  # the poll's pace; the wait ends when every worker has written its line
    counts = [int(r["message"].split()[0]) for r in frozen]
    assert len(counts) == WORKERS and min(counts) > 50_000, counts
