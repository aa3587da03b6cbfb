"""insights: gap briefs (the questions a new or unhelpful article should answer, for the editor)

Revision ID: e2b7c5a19f04
Revises: d7a4c2e9f1b3
Create Date: 2026-12-04 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = 'e2b7c5a19f04'
down_revision: str | None = 'd7a4c2e9f1b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'kbgapbrief',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('owner_user_id', sa.Integer(), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=True),
        sa.Column('questions', sa.JSON(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['kbarticle.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('kbgapbrief', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kbgapbrief_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kbgapbrief_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kbgapbrief_owner_user_id'), ['owner_user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kbgapbrief', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kbgapbrief_owner_user_id'))
        batch_op.drop_index(batch_op.f('ix_kbgapbrief_created_at'))
        batch_op.drop_index(batch_op.f('ix_kbgapbrief_article_id'))
    op.drop_table('kbgapbrief')
