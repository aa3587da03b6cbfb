"""Backups that restore: the database and the private files, with a manifest and checksums.

`python -m portal.manage backup DEST` writes, while the portal runs:

    DEST/database.sqlite3   SQLite: `VACUUM INTO`, a consistent copy taken in one read transaction
    DEST/database.pgdump    PostgreSQL: `pg_dump --format=custom` (one snapshot of the whole database)
    DEST/files/...          the private files (invoices, attachments, contracts, return photos)
    DEST/manifest.json      when, which schema revision, which database kind, and every file's
                            size and SHA-256

The database is copied first, then the files: a file written in between is in the backup without a
row pointing at it (harmless), never a row without its file... except for files removed in between,
which the manifest simply does not list.

`python -m portal.manage restore SRC` checks every checksum first, then brings the backup into an
empty installation (an empty database of the same kind, no private files yet), and refuses
anything else, so it can never overwrite a portal that holds data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, literal, select, table
from sqlalchemy.engine import make_url

from portal.settings import get_settings

MANIFEST = "manifest.json"
SQLITE_COPY = "database.sqlite3"
PG_DUMP = "database.pgdump"
FILES = "files"


class BackupError(Exception):
    """One line that says what went wrong and what to do."""


@dataclass(frozen=True)
class Summary:
    path: Path
    database: str
    files: int
    bytes: int
    revision: str

    def line(self) -> str:
        return (f"{self.path}: {self.database} database at revision {self.revision}, {self.files} private files, "
                f"{self.bytes:,} bytes")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return ""
            return str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() or "")
    finally:
        engine.dispose()


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection options for pg_dump / pg_restore, the password in the environment only."""
    u = make_url(url)
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432), "--username", u.username or "postgres",
            "--dbname", u.database or ""]
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} is not installed: install Debian's postgresql-client (the same major "
                          "version as the server)")
    # pg_dump / pg_restore with options built from DATABASE_URL, no shell
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{cmd[0]}: {last}")


def backup(dest: Path) -> Summary:
    settings = get_settings()
    dest = dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = settings.db_url
    revision = _revision(url)
    if not revision:
        raise BackupError("the database has no schema yet: nothing to back up")
    if settings.is_sqlite:
        source = make_url(url).database or ""
        target = dest / SQLITE_COPY
        with sqlite3.connect(source) as conn:  # VACUUM INTO reads one consistent snapshot
            conn.execute("VACUUM INTO ?", (str(target),))
        kind = "sqlite"
    else:
        args, env = _pg_args(url)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *args, "--file", str(dest / PG_DUMP)],
             env)
        kind = "postgresql"
    files_src = settings.files_dir
    if files_src.is_dir():
        shutil.copytree(files_src, dest / FILES, symlinks=False, dirs_exist_ok=False)
    else:
        (dest / FILES).mkdir(mode=0o700)
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(dest).as_posix()
        entries[rel] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {"format": 1, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "database": kind,
                "revision": revision, "files": entries}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    for path in dest.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    return Summary(path=dest, database=kind, files=sum(1 for k in entries if k.startswith(f"{FILES}/")),
                   bytes=sum(e["bytes"] for e in entries.values()), revision=revision)


def verify(src: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is there with its size and checksum (and no other)."""
    src = src.resolve()
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a portal backup (no readable {MANIFEST}: {exc})") from None
    listed = manifest.get("files") or {}
    present = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and p.name != MANIFEST}
    if extra := sorted(present - set(listed)):
        raise BackupError(f"the backup holds files its manifest does not list: {', '.join(extra[:5])}")
    for rel, entry in listed.items():
        path = src / rel
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {rel} is missing")
        if path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"the backup is damaged: {rel} does not match its checksum")
    return manifest


def _database_is_empty(url: str) -> bool:
    """No rows in any of the portal's tables (a freshly migrated installation counts as empty;
    search indexes keep bookkeeping rows of their own)."""
    from sqlmodel import SQLModel

    import portal.models  # noqa: F401 - every model's table in the metadata

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sorted(set(inspect(conn).get_table_names()) & set(SQLModel.metadata.tables))
            return not any(conn.execute(select(literal(1)).select_from(table(t)).limit(1)).first() for t in tables)
    finally:
        engine.dispose()


def restore(src: Path) -> Summary:
    settings = get_settings()
    src = src.resolve()
    manifest = verify(src)
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(f"this backup is of a {manifest['database']} database; this installation uses {kind}")
    files_dst = settings.files_dir
    if files_dst.exists() and any(p.is_file() for p in files_dst.rglob("*")):
        raise BackupError(f"{files_dst} already holds files: restore into an empty installation")
    url = settings.db_url
    if kind == "sqlite":
        target = Path(make_url(url).database or "")
        if target.exists() and not _database_is_empty(url):
            raise BackupError(f"{target} already holds data: restore into an empty installation")
        target.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(src / SQLITE_COPY, target)
        target.chmod(0o600)
    else:
        if not _database_is_empty(url):
            raise BackupError("the database of DATABASE_URL already holds data: restore into an empty database "
                              "(python -m portal.manage migrate creates one)")
        args, env = _pg_args(url)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--clean", "--if-exists", "--exit-on-error", *args,
              str(src / PG_DUMP)], env)
    files_dst.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(src / FILES, files_dst, dirs_exist_ok=True)
    listed = manifest["files"]
    return Summary(path=src, database=kind, files=sum(1 for k in listed if k.startswith(f"{FILES}/")),
                   bytes=sum(e["bytes"] for e in listed.values()), revision=str(manifest["revision"]))
