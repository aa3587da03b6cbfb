"""Upgrades as an operator meets them: a server started on a database behind the code's migrations
refuses with one line naming the command; after that command it serves and is ready.
`manage migrate` creates a missing PostgreSQL database when the account may, and otherwise stops
with one line saying what to run."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.schema import MIGRATE_COMMAND, head_revision
from tests.support.backend import serve_backend, start_backend
from tests.support.databases import alembic_on, drop_pg_database, pg_admin_url, postgres_reachable


def manage(env: dict[str, str], *args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portal.manage", *args], cwd=root, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_server_refuses_a_database_behind_the_head_and_serves_once_migrated(
        tmp_path: Path, root_dir: Path) -> None:
    # An installation of its own (SQLite under its data directory) migrated by the code of the
    # previous release: one migration behind.
    env = {"PORTAL_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "REFLEX_REDIS_URL": "",
           "JOBS_ENABLED": "false"}
    assert manage(env, "migrate", root=root_dir).returncode == 0
    eng = create_engine(f"sqlite:///{tmp_path / 'data' / 'portal.db'}")
    alembic_on(eng, "downgrade", "-1")
    with eng.connect() as conn:
        previous = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    eng.dispose()
    assert previous != head_revision()

    with start_backend(root_dir, env) as backend:
        code = backend.process.wait(timeout=120)  # it stops by itself
        out = backend.output()
    assert code != 0
    refusal = [line for line in out.splitlines() if line.startswith("portal: not starting")]
    assert refusal and f"at migration {previous}" in refusal[0] and MIGRATE_COMMAND in refusal[0], out[-3000:]

    # The command it names, then the same installation starts and is ready.
    assert manage(env, "migrate", root=root_dir).returncode == 0
    with serve_backend(root_dir, env) as backend:
        ready = httpx.get(f"{backend.url}/api/health/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["schema"] == "ok", ready.text


@pytest.fixture
def pg_database_name() -> Iterator[str]:
    if not postgres_reachable():
        pytest.skip("no PostgreSQL server reachable at the run's DATABASE_URL or 127.0.0.1:5432")
    name = f"portal_new_{uuid.uuid4().hex[:10]}"
    yield name
    drop_pg_database(name)


def test_migrate_creates_a_missing_postgres_database(pg_database_name: str, root_dir: Path) -> None:
    url = make_url(pg_admin_url()).set(database=pg_database_name).render_as_string(hide_password=False)
    done = manage({"DATABASE_URL": url}, "migrate", root=root_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f'created database "{pg_database_name}"' in done.stderr
    eng = create_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
    eng.dispose()
    # Run again: nothing to create, nothing to do.
    again = manage({"DATABASE_URL": url}, "migrate", root=root_dir)
    assert again.returncode == 0 and "created database" not in again.stderr


def test_migrate_without_the_right_to_create_it_says_what_to_run(pg_database_name: str, root_dir: Path) -> None:
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal_nocreate') "
                          "THEN CREATE ROLE portal_nocreate LOGIN NOCREATEDB; END IF; END $$"))
    admin.dispose()
    url = make_url(pg_admin_url()).set(username="portal_nocreate", database=pg_database_name)
    done = manage({"DATABASE_URL": url.render_as_string(hide_password=False)}, "migrate", root=root_dir)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "createdb" in lines[0] and pg_database_name in lines[0], done.stderr
    assert "Traceback" not in done.stderr
