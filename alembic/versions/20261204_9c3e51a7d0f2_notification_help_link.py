"""notifications: a "Get help with this" link for a delayed or failed delivery

Revision ID: 9c3e51a7d0f2
Revises: c4e1f09a7b3d
Create Date: 2026-12-04 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '9c3e51a7d0f2'
down_revision: str | None = 'c4e1f09a7b3d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('help_link', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('help_link')
