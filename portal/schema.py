"""Where the database's schema stands against the code's migrations (startup check, readiness)."""

from __future__ import annotations

import functools

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATE_COMMAND = "python -m portal.manage migrate"


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    from portal.manage import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    return ",".join(sorted(heads))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_problem(engine: Engine) -> str | None:
    """One line saying what is wrong and what to run, or None when the database is at the head."""
    current = current_revision(engine)
    if current == head_revision():
        return None
    where = "has no schema" if current is None else f"is at migration {current}"
    return (f"the database {where}, this code needs {head_revision()}: run `{MIGRATE_COMMAND}` "
            f"(or `make migrate`) first")
