"""The portal's Starlette API (portal.api.app:build_api, wrapped in SecurityHeaders and OriginGuard
as portal/portal.py mounts it) served by uvicorn in its own process on a
free loopback port, for tests that attack it over real HTTP the way an outside client would.

It uses the test run's database and data directory (the environment set by tests/conftest.py),
so rows a test commits are what the server sees. `server.process` is the server's psutil
process (memory can be watched from outside).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import psutil
from starlette.types import ASGIApp

from tests.support.ports import free_port


@dataclasses.dataclass(frozen=True)
class LiveApi:
    url: str
    port: int
    process: psutil.Process


def guarded_api() -> ASGIApp:
    """What portal/portal.py hands Reflex: our routes inside the security headers, the origin check
    and the client address's resolution."""
    from portal.api.app import ClientAddress, OriginGuard, SecurityHeaders, build_api

    return ClientAddress(OriginGuard(SecurityHeaders(build_api())))


def wait_until_healthy(url: str, proc: subprocess.Popen[bytes], *, timeout: float,
                       output: Callable[[], str]) -> None:
    """Wait until the server at `url` answers /api/health, or fail with the end of its output."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not start:\n{output()[-4000:]}")
        time.sleep(0.2)  # the poll's pace; the wait ends when the server answers


@contextmanager
def serve_api(root_dir: Path, env: dict[str, str] | None = None) -> Iterator[LiveApi]:
    # The server's output goes to a file: a pipe nobody reads could fill up and stall it.
    with tempfile.TemporaryFile() as log:
        yield from _serve(root_dir, env or {}, log)


def _serve(root_dir: Path, env: dict[str, str], log: IO[bytes]) -> Iterator[LiveApi]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.live_api:guarded_api", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--lifespan", "off"],
        cwd=root_dir, env={**os.environ, **env}, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")

    try:
        wait_until_healthy(url, proc, timeout=60, output=output)
        yield LiveApi(url=url, port=port, process=psutil.Process(proc.pid))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
