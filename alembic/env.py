"""Alembic bound to the models' metadata; the database URL comes from portal settings."""

from __future__ import annotations

from logging.config import fileConfig

from sqlmodel import SQLModel

import portal.models  # noqa: F401 - registers every table
from alembic import context
from portal.db import get_engine
from portal.models.kb import is_search_index

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    # The help center's full-text index is made by hand in its migration (FTS5 / GIN expression).
    return not is_search_index(name)


def run_migrations_offline() -> None:
    context.configure(url=str(get_engine().url), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True, compare_type=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine().connect() as conn:
        _run(conn)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode lets later migrations alter tables on SQLite too.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
