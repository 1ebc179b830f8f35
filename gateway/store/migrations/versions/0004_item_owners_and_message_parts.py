"""Item ownership (``item_owners``) and decision parts (``message_parts``).

An item declared to a customs belongs to the sender that declared it there first; routing (@item_sender)
and revenue notices read the owner's latest AED from ``item_owners`` instead of the latest AED of anyone.
The backfill takes, per item and recipient of stored AEDs, the first sender (acceptance order) as the
owner and that sender's latest AED as its declaration; later AEDs of other senders are left out, as the
node now refuses them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Window functions: SQLite >= 3.25 and every supported PostgreSQL.
BACKFILL = """
INSERT INTO item_owners (item_id, declared_to, sender, message_id, declared_us, updated_us)
WITH declared AS (
    SELECT mi.item_id AS item_id, d.recipient AS declared_to, mi.sender AS sender,
           mi.message_id AS message_id, mi.accepted_us AS accepted_us,
           ROW_NUMBER() OVER (PARTITION BY mi.item_id, d.recipient
                              ORDER BY mi.accepted_us, d.id) AS first_rank
    FROM message_items mi JOIN deliveries d ON d.message_id = mi.message_id
    WHERE mi.document_type = 'swg.aed.v1'
), owners AS (
    SELECT item_id, declared_to, sender, accepted_us AS declared_us FROM declared WHERE first_rank = 1
), latest AS (
    SELECT dd.item_id AS item_id, dd.declared_to AS declared_to, dd.message_id AS message_id,
           dd.accepted_us AS updated_us,
           ROW_NUMBER() OVER (PARTITION BY dd.item_id, dd.declared_to
                              ORDER BY dd.accepted_us DESC, dd.message_id DESC) AS last_rank
    FROM declared dd JOIN owners o
      ON o.item_id = dd.item_id AND o.declared_to = dd.declared_to AND o.sender = dd.sender
)
SELECT o.item_id, o.declared_to, o.sender, l.message_id, o.declared_us, l.updated_us
FROM owners o JOIN latest l ON l.item_id = o.item_id AND l.declared_to = o.declared_to AND l.last_rank = 1
"""


def upgrade() -> None:
    op.create_table('item_owners',
    sa.Column('item_id', sa.String(length=16), nullable=False),
    sa.Column('declared_to', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('declared_us', sa.BigInteger(), nullable=False),
    sa.Column('updated_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('item_id', 'declared_to', name=op.f('pk_item_owners'))
    )
    op.create_table('message_parts',
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('part_id', sa.String(length=128), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.message_id'],
                            name=op.f('fk_message_parts_message_id_messages')),
    sa.ForeignKeyConstraint(['part_id'], ['messages.message_id'], name=op.f('fk_message_parts_part_id_messages')),
    sa.PrimaryKeyConstraint('message_id', 'part_id', name=op.f('pk_message_parts'))
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('message_parts')
    op.drop_table('item_owners')
