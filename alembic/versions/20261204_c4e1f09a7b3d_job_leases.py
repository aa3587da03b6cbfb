"""jobs: a lease per job (no overlapping runs across workers, stale runs recovered)

Revision ID: c4e1f09a7b3d
Revises: 5a1c9e7d2b40
Create Date: 2026-12-04 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'c4e1f09a7b3d'
down_revision: str | None = '5a1c9e7d2b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'joblease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('joblease')
