"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import SQLModel

from portal.manage import alembic_config
from portal.models.kb import is_search_index


def test_migrated_database_matches_the_models(engine: Engine) -> None:
    # Given a database built only by running the migrations (conftest's engine fixture)
    with engine.connect() as conn:
        # The help center's full-text index (FTS5 table / GIN expression index) is not a model.
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_name": lambda name, _type, _parents: not is_search_index(name)})
        # When it is compared with the models' metadata
        diff = compare_metadata(ctx, SQLModel.metadata)
    # Then nothing differs: a model change without a migration fails here
    assert diff == [], f"models and migrations drifted apart: {diff}"


def test_database_is_at_the_single_head(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"more than one migration head: {heads}"
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == heads[0]
