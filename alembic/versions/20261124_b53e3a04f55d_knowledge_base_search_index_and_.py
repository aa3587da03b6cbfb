"""knowledge base: full-text search index (SQLite FTS5 / PostgreSQL GIN) and one feedback vote per visitor

Revision ID: b53e3a04f55d
Revises: de8aa99322d2
Create Date: 2026-11-24 10:46:10.344848
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b53e3a04f55d'
down_revision: str | None = '8f7045c53774'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept in step with portal.domain.kb.PG_DOCUMENT, which queries through this index.
PG_DOCUMENT = ("to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' "
               "|| coalesce(body_md, ''))")


def upgrade() -> None:
    with op.batch_alter_table('kbfeedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
                                      server_default=''))
        batch_op.create_unique_constraint('uq_kbfeedback_article_voter', ['article_id', 'voter'])

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # The domain (portal.domain.kb.index_article) keeps it in sync; rowid = kbarticle.id.
        op.execute("CREATE VIRTUAL TABLE kbarticle_fts USING fts5(title, summary, body, "
                   "tokenize = 'porter unicode61 remove_diacritics 2')")
        op.execute("INSERT INTO kbarticle_fts(rowid, title, summary, body) "
                   "SELECT id, title, summary, body_md FROM kbarticle WHERE status = 'published'")
    elif dialect == 'postgresql':
        op.execute(f"CREATE INDEX ix_kbarticle_fts ON kbarticle USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute("DROP TABLE IF EXISTS kbarticle_fts")
    elif dialect == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_kbarticle_fts")
    with op.batch_alter_table('kbfeedback', schema=None) as batch_op:
        batch_op.drop_constraint('uq_kbfeedback_article_voter', type_='unique')
        batch_op.drop_column('voter')
