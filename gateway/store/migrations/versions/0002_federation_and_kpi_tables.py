"""Tables added by the federation and evidence work: assistance cases, the peer receipt outbox, KPI facts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:41:17.548489
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assistance_cases',
    sa.Column('request_message_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('requesting_administration', sa.String(length=64), nullable=False),
    sa.Column('requested_administration', sa.String(length=64), nullable=False),
    sa.Column('agreement_reference', sa.String(length=128), nullable=False),
    sa.Column('requested_us', sa.BigInteger(), nullable=False),
    sa.Column('deadline_us', sa.BigInteger(), nullable=False),
    sa.Column('answer_message_id', sa.String(length=128), nullable=False),
    sa.Column('answered_us', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('request_message_id', name=op.f('pk_assistance_cases'))
    )
    op.create_table('peer_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('envelope_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_us', sa.BigInteger(), nullable=False),
    sa.Column('issuing_node', sa.String(length=64), nullable=False),
    sa.Column('sent', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_receipts')),
    sa.UniqueConstraint('message_id', 'recipient', name=op.f('uq_peer_receipts_message_id_recipient'))
    )
    with op.batch_alter_table('peer_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_peer_receipts_node_sent', ['node', 'sent', 'id'], unique=False)

    op.create_table('kpi_items',
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('item_id', sa.String(length=16), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('accepted_us', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('arrival_us', sa.BigInteger(), nullable=True),
    sa.Column('departure_us', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'], name=op.f('fk_kpi_items_message_id_messages')),
    sa.PrimaryKeyConstraint('message_id', 'item_id', name=op.f('pk_kpi_items'))
    )
    with op.batch_alter_table('kpi_items', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_items_accepted', ['document_type', 'accepted_us'], unique=False)
        batch_op.create_index('ix_kpi_items_item', ['item_id', 'document_type'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('kpi_items', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_items_item')
        batch_op.drop_index('ix_kpi_items_accepted')

    op.drop_table('kpi_items')
    with op.batch_alter_table('peer_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_peer_receipts_node_sent')

    op.drop_table('peer_receipts')
    op.drop_table('assistance_cases')
