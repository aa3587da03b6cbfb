"""payments through Stripe: payment intents, refunds, processed provider events, Stripe customers, unique saved cards

Revision ID: c4e81f3a9d27
Revises: 9e41c7b2d6a8
Create Date: 2026-12-04 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'c4e81f3a9d27'
down_revision: str | None = '9e41c7b2d6a8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_intent', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('refunded_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('provider_event_at', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_unique_constraint('uq_payment_provider_intent', ['provider_intent'])
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_customer_id', sqlmodel.sql.sqltypes.AutoString(length=100),
                                      nullable=True))
        batch_op.create_unique_constraint('uq_customer_stripe_customer_id', ['stripe_customer_id'])
    with op.batch_alter_table('paymentmethod', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_paymentmethod_provider_token', ['provider', 'provider_token'])
    op.create_table(
        'refund',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('return_id', sa.Integer(), nullable=True),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column('failure_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id']),
        sa.ForeignKeyConstraint(['payment_id'], ['payment.id']),
        sa.ForeignKeyConstraint(['requested_by_user_id'], ['user.id']),
        sa.ForeignKeyConstraint(['return_id'], ['return.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider_ref'),
    )
    for column in ('payment_id', 'customer_id', 'return_id', 'status', 'created_at'):
        op.create_index(op.f(f'ix_refund_{column}'), 'refund', [column], unique=False)
    op.create_table(
        'providerevent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider', 'event_id'),
    )
    op.create_index(op.f('ix_providerevent_created_at'), 'providerevent', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_providerevent_created_at'), table_name='providerevent')
    op.drop_table('providerevent')
    for column in ('payment_id', 'customer_id', 'return_id', 'status', 'created_at'):
        op.drop_index(op.f(f'ix_refund_{column}'), table_name='refund')
    op.drop_table('refund')
    with op.batch_alter_table('paymentmethod', schema=None) as batch_op:
        batch_op.drop_constraint('uq_paymentmethod_provider_token', type_='unique')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint('uq_customer_stripe_customer_id', type_='unique')
        batch_op.drop_column('stripe_customer_id')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payment_provider_intent', type_='unique')
        batch_op.drop_column('provider_event_at')
        batch_op.drop_column('refunded_cents')
        batch_op.drop_column('provider_intent')
