"""Writes and reads of the audit chain and its signed checkpoints (entry rules in audit_log)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select

import gateway.store.schema as t
from gateway.store.audit_log import AuditEntry, AuditEvent, Checkpoint
from gateway.store.audit_tree import Node
from gateway.store.batch import append_audit_many, read_tree_nodes
from gateway.store.engine import WriteOp


def append(events: Sequence[AuditEvent], at_us: int) -> WriteOp[list[int]]:
    def op(conn: Connection) -> list[int]:
        return append_audit_many(conn, events, at_us)
    return op


def add_checkpoint(cp: Checkpoint) -> WriteOp[bool]:
    def op(conn: Connection) -> bool:
        c = t.audit_checkpoints
        # The worker and an evidence export (perhaps in another process) may both sign: the first one stays,
        # and a checkpoint whose signed ``prev`` is no longer the newest checkpoint is refused, so that the
        # checkpoints stay one chain (the writer's transaction makes the read and the insert one step).
        last = conn.execute(select(func.max(c.c.seq))).scalar()
        if cp.prev is not None and cp.prev != (last or 0):
            return False
        if conn.execute(select(c.c.seq).where(c.c.seq == cp.seq)).first() is not None:
            return False
        conn.execute(insert(c).values(seq=cp.seq, head_hash=cp.head_hash, at_us=cp.at_us, node=cp.node, jws=cp.jws,
                                      note=cp.note))
        return True
    return op


# -- reads -----------------------------------------------------------------------------------------

def _entry(r: Any) -> AuditEntry:
    return AuditEntry(r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail, bytes(r.prev_hash),
                      bytes(r.entry_hash))


def _checkpoint(r: Any) -> Checkpoint:
    return Checkpoint(r.seq, bytes(r.head_hash), r.at_us, r.node, r.jws, note=r.note)


def entries(connect: Callable[[], contextlib.AbstractContextManager[Connection]], batch: int, first: int, last_seq: int | None
            ) -> Iterator[AuditEntry]:
    """Entries in storage (primary key) order, a connection per page so that a long walk holds none."""
    a = t.audit_log
    last = first - 1
    while True:
        cond = [a.c.seq > last] + ([a.c.seq <= last_seq] if last_seq is not None else [])
        with connect() as conn:
            rows = conn.execute(select(a).where(*cond).order_by(a.c.seq).limit(batch)).all()
        if not rows:
            return
        for r in rows:
            yield _entry(r)
        last = rows[-1].seq


def head(conn: Connection) -> tuple[int, bytes] | None:
    row = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.entry_hash).where(t.audit_head.c.id == 1)).first()
    # seq 0 is the genesis row the migrations put in place: no entry yet.
    return None if row is None or row.seq == 0 else (row.seq, bytes(row.entry_hash))


def checkpoints(conn: Connection) -> list[Checkpoint]:
    c = t.audit_checkpoints
    return [_checkpoint(r) for r in conn.execute(select(c).order_by(c.c.seq)).all()]


def last_checkpoint(conn: Connection) -> Checkpoint | None:
    c = t.audit_checkpoints
    r = conn.execute(select(c).order_by(c.c.seq.desc()).limit(1)).first()
    return None if r is None else _checkpoint(r)


def seqs_of(conn: Connection, message_id: str) -> list[int]:
    a = t.audit_log
    return [int(s) for s in conn.execute(select(a.c.seq).where(a.c.message_id == message_id)
                                         .order_by(a.c.seq)).scalars()]


def last_seq_of(conn: Connection, event: str, actor: str) -> int | None:
    a = t.audit_log
    seq = conn.execute(select(func.max(a.c.seq)).where(a.c.event == event, a.c.actor == actor)).scalar()
    return None if seq is None else int(seq)


def events_between(conn: Connection, event: str, from_us: int, to_us: int) -> list[AuditEntry]:
    a = t.audit_log
    rows = conn.execute(select(a).where(a.c.event == event, a.c.at_us >= from_us, a.c.at_us < to_us)
                        .order_by(a.c.seq)).all()
    return [_entry(r) for r in rows]


def tree_nodes(conn: Connection, nodes: Sequence[Node]) -> dict[Node, bytes]:
    return read_tree_nodes(conn, nodes)
