"""Databases of their own for tests that build, migrate or break one: a SQLite file in a temporary
directory, or a fresh PostgreSQL database on the server of the run's DATABASE_URL (dropped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from alembic import command
from portal.manage import alembic_config

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def running_on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql"))


def pg_admin_url() -> str:
    """The maintenance database of the run's PostgreSQL server (or the local one)."""
    from portal.settings import Settings

    url = Settings().db_url if running_on_postgres() else PG_ADMIN_URL
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def postgres_reachable() -> bool:
    try:
        eng = create_engine(pg_admin_url())
        with eng.connect():
            pass
        eng.dispose()
    except Exception:  # noqa: BLE001 - any failure: not reachable
        return False
    return True


def drop_pg_database(name: str) -> None:
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_database(tmp_path: Path, *, postgres: bool) -> Iterator[str]:
    """The URL of an empty database (PostgreSQL: created here, dropped afterwards)."""
    if not postgres:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    try:
        yield make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_pg_database(name)


def alembic_on(engine: Engine, verb: str, revision: str) -> None:
    """Run `alembic upgrade|downgrade REVISION` on `engine` (not the portal's configured database)."""
    cfg = alembic_config()
    cfg.attributes["configure_logger"] = False
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)
