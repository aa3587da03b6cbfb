"""help center: article translations (German, French), each with its language's full-text index

Revision ID: d7a4c2e9f1b3
Revises: c4e81f3a9d27
Create Date: 2026-12-04 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = 'd7a4c2e9f1b3'
down_revision: str | None = 'c4e81f3a9d27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept in step with portal.models.kb (INTL_FTS_DDL, PG_CONFIGS, pg_translation_document).
PG_CONFIGS = {"de": "german", "fr": "french"}


def _pg_document(config: str) -> str:
    return (f"to_tsvector('{config}', coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' "
            "|| coalesce(body_md, ''))")


def upgrade() -> None:
    op.create_table(
        'kbarticletranslation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column('body_md', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kbarticle.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('article_id', 'lang', name='uq_kbarticletranslation_article_lang'),
    )
    with op.batch_alter_table('kbarticletranslation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kbarticletranslation_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kbarticletranslation_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kbarticletranslation_lang'), ['lang'], unique=False)
        batch_op.create_index(batch_op.f('ix_kbarticletranslation_updated_at'), ['updated_at'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # rowid = kbarticletranslation.id; portal.domain.kb keeps it in sync.
        op.execute("CREATE VIRTUAL TABLE kbarticle_fts_intl USING fts5(lang UNINDEXED, title, summary, body, "
                   "tokenize = 'unicode61 remove_diacritics 2')")
    elif dialect == 'postgresql':
        for lang, config in PG_CONFIGS.items():
            op.execute(f"CREATE INDEX ix_kbarticle_fts_{lang} ON kbarticletranslation "
                       f"USING gin ({_pg_document(config)}) WHERE lang = '{lang}'")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        op.execute("DROP TABLE IF EXISTS kbarticle_fts_intl")
    elif dialect == 'postgresql':
        for lang in PG_CONFIGS:
            op.execute(f"DROP INDEX IF EXISTS ix_kbarticle_fts_{lang}")
    with op.batch_alter_table('kbarticletranslation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kbarticletranslation_updated_at'))
        batch_op.drop_index(batch_op.f('ix_kbarticletranslation_lang'))
        batch_op.drop_index(batch_op.f('ix_kbarticletranslation_created_at'))
        batch_op.drop_index(batch_op.f('ix_kbarticletranslation_article_id'))
    op.drop_table('kbarticletranslation')
