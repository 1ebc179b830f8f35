"""Retention: the chain of archive files (``archives``) and where each pruned envelope went
(``archived_messages``).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archives',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_archives')),
    sa.UniqueConstraint('name', name=op.f('uq_archives_name'))
    )
    op.create_table('archived_messages',
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('archive_seq', sa.BigInteger(), nullable=False),
    sa.Column('archived_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['archive_seq'], ['archives.seq'], name=op.f('fk_archived_messages_archive_seq_archives')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'],
                            name=op.f('fk_archived_messages_message_id_messages')),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_archived_messages'))
    )
    op.create_index(op.f('ix_archived_messages_archive_seq'), 'archived_messages', ['archive_seq'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_archived_messages_archive_seq'), table_name='archived_messages')
    op.drop_table('archived_messages')
    op.drop_table('archives')
