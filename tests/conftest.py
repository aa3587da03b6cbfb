"""Test harness: a migrated database per run, emptied after every test; factories; the app
served by AppHarnessProd for browser and websocket tests.

With DATABASE_URL set (CI's second run) everything runs on PostgreSQL, and with
REFLEX_REDIS_URL on Redis; otherwise on a SQLite file in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="portal-tests-"))
os.environ["PORTAL_ENV"] = "test"
os.environ["PORTAL_DATA_DIR"] = str(_TMP / "data")
# The app under test runs no scheduled jobs by itself: tests run jobs explicitly, so a
# background tick never races a test's own rows (tests/jobs proves the scheduling).
os.environ["JOBS_ENABLED"] = "false"
# `make test` installs the embedding model (as `make run` does); tests that are about it load it
# themselves, every other test sees the full-text-only portal, fast and independent of the model.
os.environ["KB_SEMANTIC"] = "false"
# The servers the tests start (uvicorn) would by default believe X-Forwarded-For from loopback,
# where every test client is; `reflex run` serves with granian, which leaves the connection's
# address alone. Like production, only the portal decides whom to believe (PORTAL_TRUSTED_PROXIES).
os.environ["FORWARDED_ALLOW_IPS"] = ""


def _own_resources_per_xdist_worker() -> None:
    """`make test` runs the suite in several pytest-xdist workers (processes). Each gets what a test
    run owns: its own PostgreSQL database (`<db>_gw0`, created here), its own Redis database number,
    its own compiled frontend (`.web-gw0`, relative to the app root) and its own Reflex state files.
    The SQLite file and the private files are per process already (the temporary directory above)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return
    n = int(worker.removeprefix("gw"))
    os.environ["REFLEX_WEB_WORKDIR"] = f".web-{worker}"
    os.environ["REFLEX_STATES_WORKDIR"] = f".states-{worker}"
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        from sqlalchemy import create_engine
        from sqlalchemy import text as sql
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        name = f"{parsed.database or 'portal'}_{worker}"
        admin = create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(sql("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(sql(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        os.environ["DATABASE_URL"] = parsed.set(database=name).render_as_string(hide_password=False)
    if redis_url := os.environ.get("REFLEX_REDIS_URL"):
        from urllib.parse import urlsplit, urlunsplit

        # 0 stays the default of a plain run; 13 is the scale-out test's own.
        parts = urlsplit(redis_url)
        os.environ["REFLEX_REDIS_URL"] = urlunsplit((*parts[:2], f"/{1 + n}", *parts[3:]))


_own_resources_per_xdist_worker()

from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from portal import db as portal_db  # noqa: E402
from portal.models.kb import FTS_TABLE, INTL_FTS_TABLE  # noqa: E402
from portal.settings import ROOT, get_settings, reset_settings_cache  # noqa: E402

reset_settings_cache()

# Fixtures shared across packages: a real SMTP server and a real IMAP server (Dovecot) on loopback, and
# a second brand (Kestrel Supply Co.).
pytest_plugins = ["tests.support.smtp", "tests.support.imap", "tests.support.brand"]


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The schema is built by the real migrations, so every run tests them too."""
    from portal.manage import migrate

    eng = portal_db.make_engine(get_settings().db_url)
    if eng.dialect.name == "postgresql":
        _reset_postgres(eng)
    portal_db.set_engine(eng)
    migrate()
    yield eng
    portal_db.set_engine(None)
    eng.dispose()


def _empty_postgres(conn: Any, tables: list[Any]) -> None:
    """Deletes the rows of the tables that have any and starts every used sequence again. One TRUNCATE
    of all sixty tables took 150-200 ms when they were empty and about 900 ms after the demo (it
    gives each table and index a new file), for every test; the tables a test wrote are a few.
    The tables are locked against writes first (reads go on), as TRUNCATE locked them: the app may
    still be writing (an agent's presence), and a row that came in after the check would keep its
    parent from being deleted."""
    names = ", ".join(f'"{t.name}"' for t in tables)
    conn.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    probe = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"  # noqa: S608
                               for t in tables)  # the models' own table names
    filled = {row[0] for row in conn.execute(text(probe))}
    for t in tables:  # dependants first
        if t.name in filled:
            conn.execute(t.delete())
    conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                      "WHERE schemaname = 'public' AND last_value IS NOT NULL"))


def wipe(eng: Engine) -> None:
    # Rows vanish behind the app's back (and ids are used again): nothing kept may be served.
    from portal.live.views import views

    views.clear()
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    for attempt in range(8):
        try:
            with eng.begin() as conn:
                if eng.dialect.name == "postgresql":
                    # A connection left idle inside a transaction (a test's session still open while
                    # its fixtures are torn down) would hold the TRUNCATE, and every request queued
                    # behind it, for ever: wait a little, then end such connections.
                    conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                    if attempt:
                        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                          "AND state LIKE 'idle in transaction%'"))
                    _empty_postgres(conn, tables)
                else:
                    for t in tables:
                        conn.execute(t.delete())
                    # The help center's FTS5 indexes (the articles', the translations') are not
                    # model tables; empty them too. (PostgreSQL indexes the rows themselves: the
                    # TRUNCATE of kbarticletranslation empties its GIN indexes.)
                    conn.execute(text(f"DELETE FROM {FTS_TABLE}"))  # noqa: S608 - a constant
                    conn.execute(text(f"DELETE FROM {INTL_FTS_TABLE}"))  # noqa: S608 - a constant
            return
        except OperationalError:
            # The app under test (its scheduled jobs, a late event) may hold locks the
            # TRUNCATE needs; PostgreSQL then picks one side as the deadlock victim.
            if attempt == 7:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on an empty database; whatever the test commits is removed afterwards."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
    wipe(engine)


@pytest.fixture(scope="session")
def root_dir() -> Path:
    return ROOT


@pytest.fixture
def allow_private_webhook_targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Outbound webhooks to loopback receivers (the tests' own), which production refuses."""
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """schemathesis gives every API operation's test the same node id (the name carries the
    operation): pytest-xdist, which tells tests apart by node id, then ran one and dropped 21
    without a word. Each gets its name as its id."""
    from _pytest.nodeid import coerce_node_id

    for item in items:
        base, _, last = item.nodeid.rpartition("::")
        if base and last != item.name and item.name.startswith(last + "["):
            item._id = coerce_node_id(f"{base}::{item.name}")  # what Node.nodeid reads (pytest 9)
    _longest_files_first(items)


def _longest_files_first(items: list[pytest.Item]) -> None:
    """pytest-xdist (`--dist loadfile`) hands out whole files in the order collected, each to the next
    free worker. Files marked `slow` go first, then the other files that drive the served app, then the
    rest: the last files handed out are short, so no worker is left alone with a three-minute file at
    the end (xdist's own reordering, by number of tests, put the fewest-test files, the slowest, last:
    `make pytest` turns it off)."""
    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if "harness" in getattr(item, "fixturenames", ()) else 2

    by_file: dict[str, int] = {}
    for item in items:
        path = item.nodeid.partition("::")[0]
        by_file[path] = min(by_file.get(path, 2), weight(item))
    items.sort(key=lambda item: by_file[item.nodeid.partition("::")[0]])  # stable: files stay whole


_reported: set[str] = set()
# Lines a test asks to be shown in the run's summary, passing or not (record_property("summary", ...)):
# they travel with the test's report, so they reach the output from pytest-xdist workers too.
_summaries: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _reported.add(report.nodeid)
    if report.when == "call":
        _summaries.extend(str(v) for k, v in report.user_properties if k == "summary")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _summaries:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the pytest-xdist controller: every test the workers collected must have reported, or the
    run fails (tests sharing a node id were once dropped without a word)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not session.config.getoption("numprocesses", None):
        return
    if exitstatus != 0 or session.shouldstop or session.config.getoption("collectonly"):
        return
    missing = session.testscollected - len(_reported)
    if missing > 0:
        print(f"\n{missing} of the {session.testscollected} collected tests never reported a result "
              "(tests sharing one node id?)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
