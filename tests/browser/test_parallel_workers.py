"""`make test` runs the suite in pytest-xdist workers: each must own its database, its Redis database
number and its frontend folder, or one worker's wipe, flush or build would land in another's tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from portal.settings import get_settings

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
pytestmark = pytest.mark.skipif(not WORKER, reason="runs when the suite runs in pytest-xdist workers (make test)")


def test_each_worker_has_its_own_database(engine: Engine) -> None:
    url = engine.url
    if url.get_backend_name() == "postgresql":
        assert url.database is not None and url.database.endswith(f"_{WORKER}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == url.database
    else:
        # A SQLite file under this process's own temporary directory.
        data = get_settings().portal_data_dir
        assert Path(str(url.database)).is_relative_to(data)
        assert data.parent.name.startswith("portal-tests-")


def test_each_worker_has_its_own_redis_database() -> None:
    url = os.environ.get("REFLEX_REDIS_URL")
    if not url:
        pytest.skip("no Redis in this run")
    n = int(WORKER.removeprefix("gw"))
    assert url.rstrip("/").endswith(f"/{1 + n}")
    assert get_settings().reflex_redis_url == url


def test_each_worker_serves_its_own_frontend_folder_pointed_at_its_own_backend(harness: Any,
                                                                               backend_url: str) -> None:
    """One worker of a run builds the frontend and the others copy it (tests/support/harness.py):
    whichever this one was, the pages it serves come from its own folder and send their events to
    its own backend."""
    import re

    import httpx
    from reflex.utils.prerequisites import get_web_dir

    assert str(get_web_dir()) == f".web-{WORKER}"
    client = Path(harness.app_path) / f".web-{WORKER}" / "build" / "client"
    [module] = (client / "assets").glob("reflex-env-*.js")
    # What the browser gets from this worker's frontend server is that file, and it names this
    # worker's backend, and no other
    served = httpx.get(f"{harness.frontend_url.rstrip('/')}/assets/{module.name}").text
    assert served == module.read_text()
    origins = set(re.findall(r"//(127\.0\.0\.1:\d+)/", served))
    assert origins == {backend_url.removeprefix("http://")}, origins
