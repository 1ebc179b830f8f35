"""RFC 3161 stamps of audit checkpoints (``checkpoint_stamps``): queued when a checkpoint is stored,
stamped when the TSA answers (docs/evidence.md "Time-stamps").

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkpoint_stamps',
    sa.Column('checkpoint', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('signed', sa.LargeBinary(), nullable=False),
    sa.Column('queued_us', sa.BigInteger(), nullable=False),
    sa.Column('stamped_us', sa.BigInteger(), nullable=True),
    sa.Column('gen_time_us', sa.BigInteger(), nullable=True),
    sa.Column('token', sa.LargeBinary(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('checkpoint', name=op.f('pk_checkpoint_stamps'))
    )
    op.create_index('ix_checkpoint_stamps_waiting', 'checkpoint_stamps', ['stamped_us', 'checkpoint'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_checkpoint_stamps_waiting', table_name='checkpoint_stamps')
    op.drop_table('checkpoint_stamps')
