"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and each
one can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

from portal.manage import alembic_config
from portal.models.kb import is_search_index
from tests.support.databases import alembic_on, fresh_database, running_on_postgres


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


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_name": lambda name, _type, _parents: not is_search_index(name)})
        return list(compare_metadata(ctx, SQLModel.metadata))


def test_every_migration_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    # Given a database of its own (the run's kind: SQLite, or PostgreSQL in CI's second run) at the head
    with fresh_database(tmp_path, postgres=running_on_postgres()) as url:
        eng = create_engine(url)
        try:
            alembic_on(eng, "upgrade", "head")
            revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
            # When every migration is undone, one step at a time (each downgrade runs once) ...
            for rev in revisions:
                alembic_on(eng, "downgrade", "-1")
                with eng.connect() as conn:
                    assert MigrationContext.configure(conn).get_current_revision() == rev.down_revision
            # Then nothing of the portal's is left, and upgrading again rebuilds exactly the models
            assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
            alembic_on(eng, "upgrade", "head")
            assert _schema_diff(eng) == []
        finally:
            eng.dispose()


def test_page_views_recorded_under_the_old_route_arguments_follow_the_rename(tmp_path: Path) -> None:
    # Given page views recorded before the detail routes' argument was renamed to `id`
    with fresh_database(tmp_path, postgres=running_on_postgres()) as url:
        eng = create_engine(url)
        try:
            alembic_on(eng, "upgrade", "f3a9c6e2b8d1")
            with eng.begin() as conn:
                for path in ("/orders/[order_id]", "/help/[category]/[article]", "/orders"):
                    conn.execute(text("INSERT INTO analyticsevent (kind, path, name, created_at) "
                                      "VALUES ('page_view', :p, '', CURRENT_TIMESTAMP)"), {"p": path})

            def paths() -> list[str]:
                with eng.connect() as conn:
                    return list(conn.execute(text("SELECT path FROM analyticsevent ORDER BY id")).scalars())

            # When the database is upgraded, they are counted under the routes as they are now
            alembic_on(eng, "upgrade", "head")
            assert paths() == ["/orders/[id]", "/help/[category]/[id]", "/orders"]  # the list page as it was
            # And undoing the migration gives the old names back
            alembic_on(eng, "downgrade", "f3a9c6e2b8d1")
            assert paths() == ["/orders/[order_id]", "/help/[category]/[article]", "/orders"]
        finally:
            eng.dispose()
