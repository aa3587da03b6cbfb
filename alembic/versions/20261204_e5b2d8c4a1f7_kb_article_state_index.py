"""help center: a covering index for the published articles' state (kb.published_state)

Revision ID: e5b2d8c4a1f7
Revises: e5b2c8d1f4a7
Create Date: 2026-12-04 22:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'e5b2d8c4a1f7'
down_revision: str | None = 'e5b2c8d1f4a7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column that kb.published_state() and the search caches' sync read: the database answers
# them from the index alone instead of reading every article's text and embedding.
COLUMNS = ['status', 'updated_at', 'id', 'embedding_model']


def upgrade() -> None:
    with op.batch_alter_table('kbarticle', schema=None) as batch_op:
        batch_op.create_index('ix_kbarticle_published_state', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kbarticle', schema=None) as batch_op:
        batch_op.drop_index('ix_kbarticle_published_state')
