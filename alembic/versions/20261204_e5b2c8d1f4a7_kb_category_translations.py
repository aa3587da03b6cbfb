"""help center: category names and descriptions in German and French

Revision ID: e5b2c8d1f4a7
Revises: e2b7c5a19f04
Create Date: 2026-12-04 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = 'e5b2c8d1f4a7'
down_revision: str | None = 'e2b7c5a19f04'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # {lang: {"name": ..., "description": ...}}; a category without one reads in English.
    with op.batch_alter_table('kbcategory') as batch:
        batch.add_column(sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('kbcategory') as batch:
        batch.drop_column('translations')
