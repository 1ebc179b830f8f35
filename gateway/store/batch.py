"""Audit chain appends, and the rows an optimistic group-commit batch writes at its end.

A busy node commits batches of up to ``engine.MAX_BATCH`` operations. Written one by one, each accept
cost seven statements (message, items, deliveries, KPI facts, audit head read, audit insert, head
update); SQLAlchemy's per-statement overhead, not SQLite, was most of that (docs/performance.md). In a
batch's optimistic first run the ``Writer`` therefore installs a ``BatchBuffer`` on the connection:
inserts of new rows are collected per statement and run as one executemany each at the end, and the
audit chain head is read once and written once per batch.

Nothing changes for correctness: the batch is still one transaction, answered only after the commit.
If the buffered run fails anywhere — an operation raising, or the flush hitting a constraint (a
duplicate message id in the batch or already stored) — the whole transaction is rolled back and the
``Writer`` reruns the batch without a buffer and with a SAVEPOINT per operation, where every operation
writes at once and fails alone with its own precise error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Executable, and_, insert, or_, select, update

import gateway.store.audit_log as audit
import gateway.store.audit_tree as tree
import gateway.store.schema as t

BUFFER_KEY = "swg.batch_buffer"


class Deferred(Protocol):
    """Work of one kind that the ops of a buffered batch leave for its end (``BatchBuffer.deferred``)."""

    def flush(self, conn: Connection, buffer: BatchBuffer) -> None: ...


D = TypeVar("D", bound=Deferred)

_HEAD_Q = select(t.audit_head.c.seq, t.audit_head.c.entry_hash).where(t.audit_head.c.id == 1)
_HEAD_Q_PG = _HEAD_Q.with_for_update()
_INSERT_AUDIT = insert(t.audit_log)
_INSERT_HEAD = insert(t.audit_head)
_UPDATE_HEAD = update(t.audit_head).where(t.audit_head.c.id == 1)
_INSERT_TREE = insert(t.audit_tree)


class BatchBuffer:
    """Deferred inserts and the audit head of one buffered batch (see the module doc)."""

    def __init__(self) -> None:
        # Flushed in first-use order: an accept adds its message row before the rows that refer to it.
        self._rows: dict[Executable, list[dict[str, Any]]] = {}
        self._audit_rows: list[dict[str, Any]] = []
        self._head: tuple[int, bytes] | None = None
        self._head_exists = True
        self._first_seq = 0
        self._leaves: list[bytes] = []
        self._deferred: dict[str, Deferred] = {}

    def insert(self, stmt: Executable, rows: Sequence[dict[str, Any]] | dict[str, Any]) -> None:
        bucket = self._rows.setdefault(stmt, [])
        if isinstance(rows, dict):
            bucket.append(rows)
        else:
            bucket.extend(rows)

    def deferred(self, key: str, factory: Callable[[], D]) -> D:
        """This batch's ``key`` work (made by ``factory`` on first use). Its ``flush`` runs first when the
        batch is flushed, reading once for all the ops and adding rows or audit entries; raising there makes
        the Writer rerun the batch unbuffered, op by op."""
        found = self._deferred.get(key)
        if found is None:
            found = self._deferred[key] = factory()
        return found  # type: ignore[return-value]

    def append_audit(self, conn: Connection, events: Sequence[audit.AuditEvent], at_us: int) -> list[int]:
        if self._head is None:
            self._head, self._head_exists = _read_head(conn)
            self._first_seq = self._head[0] + 1
        seq, prev = self._head
        seqs = []
        for ev in events:
            seq += 1
            prev = _audit_row(self._audit_rows, self._leaves, seq, prev, ev, at_us)
            seqs.append(seq)
        self._head = (seq, prev)
        return seqs

    def flush(self, conn: Connection) -> None:
        for work in self._deferred.values():
            work.flush(conn, self)
        executemany = _sqlite_executemany if conn.dialect.name == "sqlite" else _core_executemany
        for stmt, rows in self._rows.items():
            if rows:
                executemany(conn, stmt, rows)
        if self._audit_rows:
            assert self._head is not None
            executemany(conn, _INSERT_AUDIT, self._audit_rows)
            nodes = _tree_rows(conn, self._first_seq - 1, self._leaves)
            if nodes:
                executemany(conn, _INSERT_TREE, nodes)
            seq, h = self._head
            if self._head_exists:
                conn.execute(_UPDATE_HEAD, {"seq": seq, "entry_hash": h})
            else:
                conn.execute(_INSERT_HEAD, {"id": 1, "seq": seq, "entry_hash": h})


def _core_executemany(conn: Connection, stmt: Executable, rows: list[dict[str, Any]]) -> None:
    conn.execute(stmt, rows)


class _Positional:
    """An INSERT compiled once for SQLite's positional parameters and one set of row keys."""

    def __init__(self, stmt: Any, keys: tuple[str, ...], dialect: Any):
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        # Columns the rows leave out come with their scalar Python default, as SQLAlchemy would fill in.
        self.defaults = {n: stmt.table.c[n].default.arg for n in self.names if n not in keys}

    def params(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        names, defaults = self.names, self.defaults
        if not defaults:
            return [tuple(r[n] for n in names) for r in rows]
        return [tuple(r[n] if n in r else defaults[n] for n in names) for r in rows]


# Keyed by the statement object itself (held here), never by id(): an id can be reused by another object.
_POSITIONAL: dict[tuple[Any, tuple[str, ...]], _Positional] = {}


def _sqlite_executemany(conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """The batch's inserts straight on the driver's cursor: SQLAlchemy's per-statement work (execution
    context, parameter processing, result setup) cost more than SQLite inserting the rows
    (docs/performance.md). Only for plain INSERTs of the few prebuilt statements above, whose column
    types (integers, strings, bytes) need no conversion."""
    first = rows[0].keys()
    if any(r.keys() != first for r in rows):
        conn.execute(stmt, rows)  # rows of different shapes: let SQLAlchemy sort them out
        return
    keys = tuple(first)
    key = (stmt, keys)
    positional = _POSITIONAL.get(key)
    if positional is None:
        positional = _POSITIONAL[key] = _Positional(stmt, keys, conn.dialect)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(positional.sql, positional.params(rows))
    finally:
        cursor.close()


def buffer_of(conn: Connection) -> BatchBuffer | None:
    return conn.info.get(BUFFER_KEY)


def append_audit(conn: Connection, ev: audit.AuditEvent, at_us: int) -> int:
    """Append one audit entry; the head row update serialises appends across writers."""
    return append_audit_many(conn, (ev,), at_us)[0]


def append_audit_many(conn: Connection, events: Sequence[audit.AuditEvent], at_us: int) -> list[int]:
    """Append entries in order, with one head read, one (multi-row) insert and one head update: in the
    batch's buffer if there is one, else written at once. On PostgreSQL the head row stays locked until
    the batch commits and every replica's writer waits for it, so round trips matter."""
    if not events:
        return []
    buf = buffer_of(conn)
    if buf is not None:
        return buf.append_audit(conn, events, at_us)
    own = BatchBuffer()
    seqs = own.append_audit(conn, events, at_us)
    own.flush(conn)
    return seqs


def lock_audit_head(conn: Connection) -> None:
    """First lock of every (non lock-free) write transaction on PostgreSQL: the audit chain head.

    Appends serialise on this row anyway; taking it before any delivery or message row means every
    writer of every replica acquires locks in the same order, so none can wait on another in a cycle.
    """
    conn.execute(select(t.audit_head.c.id).where(t.audit_head.c.id == 1).with_for_update())


def _read_head(conn: Connection) -> tuple[tuple[int, bytes], bool]:
    """((seq, entry hash) of the head, whether the head row exists); a database from before the
    genesis row starts the chain at GENESIS."""
    head = conn.execute(_HEAD_Q_PG if conn.dialect.name == "postgresql" else _HEAD_Q).first()
    if head is None:
        return (0, audit.GENESIS), False
    return (head.seq, bytes(head.entry_hash)), True


def _audit_row(rows: list[dict[str, Any]], leaves: list[bytes], seq: int, prev: bytes, ev: audit.AuditEvent,
               at_us: int) -> bytes:
    detail = audit.canonical_detail(ev.detail)
    data = audit.entry_bytes(seq, at_us, ev.event, ev.message_id, ev.actor, ev.subject, detail, prev)
    h = hashlib.sha256(data).digest()
    leaves.append(tree.leaf_hash(data))
    rows.append({"seq": seq, "at_us": at_us, "event": ev.event, "message_id": ev.message_id, "actor": ev.actor,
                 "subject": ev.subject, "detail": detail, "prev_hash": prev, "entry_hash": h})
    return h


def read_tree_nodes(conn: Connection, nodes: Sequence[tree.Node]) -> dict[tree.Node, bytes]:
    """The stored hashes of ``nodes`` (one query); absent nodes are left out."""
    if not nodes:
        return {}
    a = t.audit_tree
    rows = conn.execute(select(a.c.level, a.c.idx, a.c.hash).where(
        or_(*(and_(a.c.level == lv, a.c.idx == i) for lv, i in nodes)))).all()
    return {(r.level, r.idx): bytes(r.hash) for r in rows}


def _tree_rows(conn: Connection, size: int, leaves: list[bytes]) -> list[dict[str, Any]]:
    """The Merkle tree nodes the batch's entries complete. A tree whose right edge is not stored (entries
    deleted under it) gets no rows: the append goes on, and verify and every proof name the damage."""
    edge_nodes = tree.frontier(size)
    edge = read_tree_nodes(conn, edge_nodes)
    if len(edge) != len(edge_nodes):
        return []
    return [{"level": lv, "idx": i, "hash": h} for lv, i, h in tree.append_leaves(size, edge, leaves)]
