"""Audit Merkle tree: the perfect subtree hashes (``audit_tree``) and signed-note checkpoints (``note``).

The backfill hashes the entries already logged into the tree, in seq order and a page at a time, so that
an upgraded node proves inclusion of entries written before the upgrade too. It reads the log once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store import audit_log, audit_tree


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_PAGE = 10_000


def upgrade() -> None:
    tree = op.create_table('audit_tree',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_audit_tree'))
    )
    with op.batch_alter_table('audit_checkpoints') as batch:
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))
    conn = op.get_bind()
    log = sa.table('audit_log', *(sa.column(c) for c in (
        'seq', 'at_us', 'event', 'message_id', 'actor', 'subject', 'detail', 'prev_hash')))
    size, last = 0, 0
    edge: dict[audit_tree.Node, bytes] = {}
    while True:
        rows = conn.execute(sa.select(log).where(log.c.seq > last).order_by(log.c.seq).limit(_PAGE)).all()
        if not rows:
            return
        leaves = []
        # Leaves in seq order: a gap or an edit in the chain is verify's finding, which the tree then shows too.
        for r in rows:
            leaves.append(audit_tree.leaf_hash(audit_log.entry_bytes(
                r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail, bytes(r.prev_hash))))
            size += 1
        nodes = audit_tree.append_leaves(size - len(leaves), edge, leaves)
        conn.execute(sa.insert(tree), [{"level": lv, "idx": i, "hash": h} for lv, i, h in nodes])
        made = {(lv, i): h for lv, i, h in nodes}
        edge = {n: made[n] if n in made else edge[n] for n in audit_tree.frontier(size)}
        last = rows[-1].seq


def downgrade() -> None:
    with op.batch_alter_table('audit_checkpoints') as batch:
        batch.drop_column('note')
    op.drop_table('audit_tree')
