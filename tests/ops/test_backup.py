"""Backups that restore (issue 16): a running portal with data is backed up by the operator's
command, restored into another, empty installation, and every table and every private file is
the same there; the restored portal starts and is ready. A backup never lands on data, and a
damaged one is refused before anything is written. On the run's kind of database (SQLite, or
PostgreSQL in CI's second run), each installation with a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.support.backend import serve_backend
from tests.support.databases import drop_pg_database, pg_admin_url, running_on_postgres


def manage(env: dict[str, str], *args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portal.manage", *args], cwd=root, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def installations(tmp_path: Path) -> Iterator[Any]:
    """Environments of installations of their own: a data directory each, and on PostgreSQL a
    database each (created by `manage migrate`, dropped afterwards)."""
    made: list[str] = []

    def new(name: str) -> dict[str, str]:
        env = {"PORTAL_DATA_DIR": str(tmp_path / name), "REFLEX_REDIS_URL": "", "JOBS_ENABLED": "false"}
        if running_on_postgres():
            db = f"portal_backup_{name}_{uuid.uuid4().hex[:8]}"
            made.append(db)
            env["DATABASE_URL"] = make_url(pg_admin_url()).set(database=db).render_as_string(hide_password=False)
        else:
            env["DATABASE_URL"] = ""
        return env

    yield new
    for db in made:
        drop_pg_database(db)


def _url(env: dict[str, str]) -> str:
    return env["DATABASE_URL"] or f"sqlite:///{Path(env['PORTAL_DATA_DIR']) / 'portal.db'}"


def _tables(env: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    engine = create_engine(_url(env))
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            quote = engine.dialect.identifier_preparer.quote
            return {n: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {quote(n)}"))),  # noqa: S608
                              key=repr) for n in names}
    finally:
        engine.dispose()


def _files(env: dict[str, str]) -> dict[str, bytes]:
    root = Path(env["PORTAL_DATA_DIR"]) / "files"
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_backup_of_a_running_portal_restores_every_table_and_file_elsewhere(
        installations: Any, tmp_path: Path, root_dir: Path) -> None:
    source = installations("source")
    assert manage(source, "migrate", root=root_dir).returncode == 0
    seeded = subprocess.run([sys.executable, "-m", "portal.seed"], cwd=root_dir, env={**os.environ, **source},
                            capture_output=True, text=True, timeout=300, check=False)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    before = _tables(source)
    assert sum(len(rows) for rows in before.values()) > 500  # the demo's data (the control of "the same")
    # A private file of each kind the portal keeps (the demo's contracts and statements, and one more)
    extra = Path(source["PORTAL_DATA_DIR"]) / "files" / "attachments" / "note.txt"
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes("Łukasz's attachment\n".encode())
    files = _files(source)
    assert len(files) >= 1

    # While the portal serves, the operator's command backs it up
    backup = tmp_path / "backup-2026-12-04"
    with serve_backend(root_dir, source) as running:
        assert httpx.get(f"{running.url}/api/health/ready", timeout=10).status_code == 200
        done = manage(source, "backup", str(backup), root=root_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup: ") and "private files" in done.stdout
    assert (backup / "manifest.json").is_file()

    # Restored into an empty installation (freshly migrated: tables, no rows)
    target = installations("target")
    assert manage(target, "migrate", root=root_dir).returncode == 0
    restored = manage(target, "restore", str(backup), root=root_dir)
    assert restored.returncode == 0, restored.stderr
    assert _tables(target) == before
    assert _files(target) == files
    with serve_backend(root_dir, target) as server:
        ready = httpx.get(f"{server.url}/api/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text

    # Never onto data: the same restore into the installation that now holds it is refused
    again = manage(target, "restore", str(backup), root=root_dir)
    assert again.returncode != 0 and "holds" in again.stderr and "empty installation" in again.stderr, again.stderr


def test_a_damaged_backup_is_refused_before_anything_is_written(
        installations: Any, tmp_path: Path, root_dir: Path) -> None:
    source = installations("small")
    assert manage(source, "migrate", root=root_dir).returncode == 0
    note = Path(source["PORTAL_DATA_DIR"]) / "files" / "contracts" / "signed.pdf"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_bytes(b"%PDF-1.7 a contract")
    backup = tmp_path / "backup"
    assert manage(source, "backup", str(backup), root=root_dir).returncode == 0

    copy = backup / "files" / "contracts" / "signed.pdf"
    copy.write_bytes(b"%PDF-1.7 a forged contract")
    target = installations("damaged")
    assert manage(target, "migrate", root=root_dir).returncode == 0
    refused = manage(target, "restore", str(backup), root=root_dir)
    assert refused.returncode != 0 and "damaged: files/contracts/signed.pdf" in refused.stderr, refused.stderr
    assert _files(target) == {}
    # The positive control: put right, the same backup restores into the same installation
    copy.write_bytes(b"%PDF-1.7 a contract")
    assert manage(target, "restore", str(backup), root=root_dir).returncode == 0
    assert _files(target) == {"contracts/signed.pdf": b"%PDF-1.7 a contract"}
