"""The production server as `make run` starts it (`reflex run --env prod`), backend only, in its
own process group on a free loopback port, with the test run's environment plus `env`.

Its output goes to a file (a pipe nobody reads could fill up and stall it); `Backend.output()`
reads it, also after the server stopped.
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
from typing import IO, TypeVar

import httpx
from sqlmodel import Session

from portal.domain import auth
from portal.models import User
from portal.settings import get_settings
from tests.support.live_api import wait_until_healthy
from tests.support.ports import free_port

T = TypeVar("T")


@dataclasses.dataclass
class Backend:
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager stops it; the exit code once it is gone."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        return int(self.process.returncode)


@contextmanager
def start_backend(root_dir: Path, env: dict[str, str] | None = None, *, workers: int = 1) -> Iterator[Backend]:
    """Start the server and hand it over at once (it may still be starting, or refuse to)."""
    port = free_port()
    full_env = {**os.environ, "GRANIAN_WORKERS": str(workers), "REFLEX_USE_SYSTEM_BUN": "1", **(env or {})}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--backend-only",
             "--backend-port", str(port), "--backend-host", "127.0.0.1"],
            cwd=root_dir, env=full_env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
        )
        backend = Backend(url=f"http://127.0.0.1:{port}", process=proc, log=log)
        try:
            yield backend
        finally:
            backend.stop()


@contextmanager
def serve_backend(root_dir: Path, env: dict[str, str] | None = None, *, workers: int = 1) -> Iterator[Backend]:
    """Start the server and wait until /api/health answers."""
    with start_backend(root_dir, env, workers=workers) as backend:
        wait_until_healthy(backend.url, backend.process, timeout=120, output=backend.output)
        yield backend


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str, pace: float = 0.2) -> T:
    """Poll `condition` until it returns something truthy (and return that), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pace)  # the poll's pace; the wait ends when the condition holds


def session_cookie(server: str, db: Session, user: User) -> str:
    """Sign `user` in the browser's way (a one-time ticket traded over HTTP for the HttpOnly
    cookie) and return the Cookie header value."""
    name = get_settings().session_cookie_name
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    r = httpx.get(f"{server}/api/auth/session", params={"ticket": ticket}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return f"{name}={r.cookies[name]}"
