"""Initial schema: messages, items, deliveries, receipts, the audit chain and its head.

Revision ID: 0001
Revises: -
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('head_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_checkpoints'))
    )
    audit_head = op.create_table('audit_head',
    sa.Column('id', sa.SmallInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    # The head row exists from the start (seq 0, the genesis hash), so that every append, on every
    # replica, locks the same row instead of racing to insert it.
    op.bulk_insert(audit_head, [{'id': 1, 'seq': 0, 'entry_hash': bytes(32)}])
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('entry_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_message_id'), 'audit_log', ['message_id'], unique=False)
    op.create_table('messages',
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('in_reply_to', sa.String(length=128), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('submit_sha256', sa.LargeBinary(length=32), nullable=True),
    sa.Column('envelope', sa.LargeBinary(), nullable=False),
    sa.Column('envelope_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('expires_us', sa.BigInteger(), nullable=False),
    sa.Column('accepted_us', sa.BigInteger(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_messages'))
    )
    op.create_index(op.f('ix_messages_accepted_us'), 'messages', ['accepted_us'], unique=False)
    op.create_index(op.f('ix_messages_conversation_id'), 'messages', ['conversation_id'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('route', sa.String(length=64), nullable=False),
    sa.Column('state', sa.SmallInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_us', sa.BigInteger(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_us', sa.BigInteger(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('updated_us', sa.BigInteger(), nullable=False),
    sa.Column('expires_us', sa.BigInteger(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'], name=op.f('fk_deliveries_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('message_id', 'recipient', name=op.f('uq_deliveries_message_id_recipient'))
    )
    op.create_index('ix_deliveries_route_state', 'deliveries', ['route', 'state', 'id'], unique=False)
    op.create_index('ix_deliveries_state_expires', 'deliveries', ['state', 'expires_us'], unique=False)
    op.create_index('ix_deliveries_work', 'deliveries', ['recipient', 'state', 'next_attempt_us'], unique=False)
    op.create_table('message_items',
    sa.Column('item_id', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('accepted_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'], name=op.f('fk_message_items_message_id_messages')),
    sa.PrimaryKeyConstraint('item_id', 'message_id', name=op.f('pk_message_items'))
    )
    op.create_table('receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('envelope_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('issued_us', sa.BigInteger(), nullable=False),
    sa.Column('issuing_node', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'], name=op.f('fk_receipts_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('message_id', 'recipient', 'kind', name=op.f('uq_receipts_message_id_recipient_kind'))
    )


def downgrade() -> None:
    op.drop_table('receipts')
    op.drop_table('message_items')
    op.drop_index('ix_deliveries_work', table_name='deliveries')
    op.drop_index('ix_deliveries_state_expires', table_name='deliveries')
    op.drop_index('ix_deliveries_route_state', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_messages_conversation_id'), table_name='messages')
    op.drop_index(op.f('ix_messages_accepted_us'), table_name='messages')
    op.drop_table('messages')
    op.drop_index(op.f('ix_audit_log_message_id'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('audit_head')
    op.drop_table('audit_checkpoints')
