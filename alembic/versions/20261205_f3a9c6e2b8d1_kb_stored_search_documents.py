"""help center: PostgreSQL ranks from a stored, weighted search document

The GIN expression index decided which articles match, but ranking them computed the weighted
document (title A, summary B, body D) again for every matching row, parsing each body: seconds per
search at 5,000 articles. Each row now keeps that document in a generated column, indexed; a match
and its rank read it instead. SQLite (FTS5) is unchanged.

Revision ID: f3a9c6e2b8d1
Revises: e5b2d8c4a1f7
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'f3a9c6e2b8d1'
down_revision: str | None = 'e5b2d8c4a1f7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept in step with portal.models.kb (PG_DOCUMENT_COLUMN, PG_CONFIGS), which portal.domain.kb queries.
COLUMN = "search_document"
PG_CONFIGS = {"de": "german", "fr": "french"}


def _weighted(config: str) -> str:
    return (f"setweight(to_tsvector('{config}', coalesce(title, '')), 'A') || "
            f"setweight(to_tsvector('{config}', coalesce(summary, '')), 'B') || "
            f"setweight(to_tsvector('{config}', coalesce(body_md, '')), 'D')")


def _plain(config: str) -> str:
    return (f"to_tsvector('{config}', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' "
            "|| coalesce(body_md, ''))")


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f"ALTER TABLE kbarticle ADD COLUMN {COLUMN} tsvector "
               f"GENERATED ALWAYS AS ({_weighted('english')}) STORED")
    op.execute(f"CREATE INDEX ix_kbarticle_fts_document ON kbarticle USING gin ({COLUMN})")
    op.execute("DROP INDEX IF EXISTS ix_kbarticle_fts")
    cases = " ".join(f"WHEN '{lang}' THEN {_weighted(config)}" for lang, config in PG_CONFIGS.items())
    op.execute(f"ALTER TABLE kbarticletranslation ADD COLUMN {COLUMN} tsvector "
               f"GENERATED ALWAYS AS (CASE lang {cases} END) STORED")
    for lang in PG_CONFIGS:
        op.execute(f"DROP INDEX IF EXISTS ix_kbarticle_fts_{lang}")
        op.execute(f"CREATE INDEX ix_kbarticle_fts_{lang} ON kbarticletranslation "
                   f"USING gin ({COLUMN}) WHERE lang = '{lang}'")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for lang, config in PG_CONFIGS.items():
        op.execute(f"DROP INDEX IF EXISTS ix_kbarticle_fts_{lang}")
        op.execute(f"CREATE INDEX ix_kbarticle_fts_{lang} ON kbarticletranslation "
                   f"USING gin ({_plain(config)}) WHERE lang = '{lang}'")
    op.execute(f"ALTER TABLE kbarticletranslation DROP COLUMN {COLUMN}")
    op.execute(f"CREATE INDEX ix_kbarticle_fts ON kbarticle USING gin ({_plain('english')})")
    op.execute("DROP INDEX IF EXISTS ix_kbarticle_fts_document")
    op.execute(f"ALTER TABLE kbarticle DROP COLUMN {COLUMN}")
