"""support by email: inbound mail log, ticket reply tokens and contacts, message headers, guest contacts

Revision ID: 9e41c7b2d6a8
Revises: 9c3e51a7d0f2
Create Date: 2026-12-04 10:06:11.388514
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '9e41c7b2d6a8'
down_revision: str | None = '9c3e51a7d0f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inboundmail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('from_address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('ticket_message_id', sa.Integer(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.ForeignKeyConstraint(['ticket_message_id'], ['ticketmessage.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inboundmail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inboundmail_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inboundmail_message_key'), ['message_key'], unique=True)
        batch_op.create_index(batch_op.f('ix_inboundmail_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_inboundmail_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guest', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('mailmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('ticket_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('bounced_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_mailmessage_message_id'), ['message_id'], unique=False)
        batch_op.create_foreign_key('fk_mailmessage_ticket_message_id', 'ticketmessage', ['ticket_message_id'], ['id'])

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('reply_token', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('follow_up_of_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_ticket_reply_token', ['reply_token'])
        batch_op.create_foreign_key('fk_ticket_follow_up_of_id', 'ticket', ['follow_up_of_id'], ['id'])

    with op.batch_alter_table('ticketmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via_email', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('email_message_id', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('email_headers', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('email_original', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('delivery_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default=''))
        batch_op.create_index(batch_op.f('ix_ticketmessage_email_message_id'), ['email_message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticketmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticketmessage_email_message_id'))
        batch_op.drop_column('delivery_status')
        batch_op.drop_column('email_original')
        batch_op.drop_column('email_headers')
        batch_op.drop_column('email_message_id')
        batch_op.drop_column('via_email')

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_follow_up_of_id', type_='foreignkey')
        batch_op.drop_constraint('uq_ticket_reply_token', type_='unique')
        batch_op.drop_column('follow_up_of_id')
        batch_op.drop_column('reply_token')
        batch_op.drop_column('contact_email')

    with op.batch_alter_table('mailmessage', schema=None) as batch_op:
        batch_op.drop_constraint('fk_mailmessage_ticket_message_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_mailmessage_message_id'))
        batch_op.drop_column('bounced_at')
        batch_op.drop_column('ticket_message_id')
        batch_op.drop_column('headers')
        batch_op.drop_column('message_id')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('guest')

    with op.batch_alter_table('inboundmail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inboundmail_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_inboundmail_status'))
        batch_op.drop_index(batch_op.f('ix_inboundmail_message_key'))
        batch_op.drop_index(batch_op.f('ix_inboundmail_created_at'))

    op.drop_table('inboundmail')
