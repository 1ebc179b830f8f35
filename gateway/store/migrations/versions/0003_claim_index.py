"""Deliveries: claim index (recipient, state, id) instead of (recipient, state, next_attempt_us).

A claim takes the oldest due deliveries of a recipient. Ordered by id, it now walks this index and stops
at its limit; the old index made the database collect and sort every due delivery of the recipient first,
which grew with the queue (docs/performance.md, "Round 3").

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:30:00
"""

from __future__ import annotations

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_deliveries_claim', 'deliveries', ['recipient', 'state', 'id'], unique=False)
    op.drop_index('ix_deliveries_work', table_name='deliveries')


def downgrade() -> None:
    op.create_index('ix_deliveries_work', 'deliveries', ['recipient', 'state', 'next_attempt_us'], unique=False)
    op.drop_index('ix_deliveries_claim', table_name='deliveries')
