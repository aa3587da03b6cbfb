"""Engine and sessions. Domain functions receive a Session; the caller owns the transaction."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from portal.live.loop import blocking_point
from portal.settings import early, get_settings

_lock = threading.Lock()
_engine: Engine | None = None
# The worker pool's threads (portal.live.runtime) and Starlette's, which both open transactions.
POOL_SIZE = int(early("PORTAL_DB_POOL_SIZE", "16"))


def utcnow() -> datetime:
    """Aware UTC. sqlmodel's UTCDateTime stores it as timestamptz on PostgreSQL and as UTC
    text on SQLite, and hands back aware UTC values on both."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def private_dir(path: Path) -> None:
    """Create `path` for the portal's account only, and close one left open by an older version:
    nothing under it (database, files, mail) is then reachable by other local accounts."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o700)


def make_engine(url: str) -> Engine:
    private_dir(Path(get_settings().portal_data_dir))
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_dir(Path(path).parent)
            if Path(path).exists() and Path(path).stat().st_uid == os.getuid():
                Path(path).chmod(0o600)
        # As many pooled connections as the worker pool has threads, so none is opened (and set
        # up) again for every transaction under load.
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                            pool_size=POOL_SIZE, max_overflow=POOL_SIZE)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=20)


@event.listens_for(Engine, "before_cursor_execute")
def _not_on_the_loop(*_args: Any) -> None:
    # Any statement, however its session was opened, refuses to run inside a loop-first try.
    blocking_point("database")


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = make_engine(get_settings().db_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Used by tests and tools that bring their own engine."""
    global _engine
    _engine = engine


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    blocking_point("database")
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
