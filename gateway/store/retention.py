"""Retention: which messages may leave the database, what an archive of them holds, and the prune.

A message may be archived once every delivery of it (and of its parts) is final (states.TERMINAL) and it
was accepted before the cut-off. Pruning keeps the ``messages`` row (the submit digest answers a resubmit
of the same id, GetStatus reads its metadata), its deliveries and its receipts, and empties the envelope,
which is most of a message's bytes (docs/deploy.md "Retention"). The audit log is never pruned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Exists, delete, exists, func, insert, or_, select, update

import gateway.store.schema as t
from gateway.errors import FailedPrecondition
from gateway.store.audit_log import AuditEntry, AuditEvent
from gateway.store.audit_queries import _entry
from gateway.store.batch import append_audit
from gateway.store.engine import WriteOp
from gateway.store.records import ReceiptRecord, receipt_record
from gateway.store.states import TERMINAL

# One audit entry per archive file (not per message: the entries about each message are in the archive).
ARCHIVED = "archived"
_CHUNK = 500


@dataclass(frozen=True)
class ArchiveRecord:
    seq: int
    name: str
    sha256: bytes
    created_us: int
    messages: int


@dataclass(frozen=True)
class ArchivableMessage:
    message_id: str
    envelope: bytes
    envelope_sha256: bytes
    receipts: tuple[ReceiptRecord, ...]
    entries: tuple[AuditEntry, ...]


def _open_delivery() -> Exists:
    d = t.deliveries
    return exists().where(d.c.message_id == t.messages.c.message_id, d.c.state.not_in([int(s) for s in TERMINAL]))


def _open_part() -> Exists:
    # A message split per recipient is final only when every part is: its status shows theirs.
    p, d = t.message_parts, t.deliveries
    return exists().where(p.c.message_id == t.messages.c.message_id, d.c.message_id == p.c.part_id,
                          d.c.state.not_in([int(s) for s in TERMINAL]))


def _not_archived() -> ColumnElement[bool]:
    a = t.archived_messages
    return ~exists().where(a.c.message_id == t.messages.c.message_id)


def archivable(conn: Connection, accepted_before_us: int, limit: int) -> list[str]:
    """Ids of messages accepted before the cut-off whose deliveries are all final, oldest first."""
    m = t.messages
    # A message split into parts (a decision per post, items per route) may have no delivery of its own:
    # it is final when its parts are.
    has_delivery = exists().where(t.deliveries.c.message_id == m.c.message_id)
    has_part = exists().where(t.message_parts.c.message_id == m.c.message_id)
    q = (select(m.c.message_id)
         .where(m.c.accepted_us < accepted_before_us, _not_archived(), or_(has_delivery, has_part),
                ~_open_delivery(), ~_open_part())
         .order_by(m.c.accepted_us, m.c.message_id).limit(limit))
    return [str(r) for r in conn.execute(q).scalars()]


def contents(conn: Connection, message_ids: Sequence[str]) -> list[ArchivableMessage]:
    m, r, a = t.messages, t.receipts, t.audit_log
    out: list[ArchivableMessage] = []
    for k in range(0, len(message_ids), _CHUNK):
        ids = list(message_ids[k:k + _CHUNK])
        rows = {row.message_id: row for row in conn.execute(
            select(m.c.message_id, m.c.envelope, m.c.envelope_sha256).where(m.c.message_id.in_(ids)))}
        recs: dict[str, list[ReceiptRecord]] = {}
        for row in conn.execute(select(r).where(r.c.message_id.in_(ids)).order_by(r.c.id)):
            recs.setdefault(row.message_id, []).append(receipt_record(row))
        ents: dict[str, list[AuditEntry]] = {}
        for row in conn.execute(select(a).where(a.c.message_id.in_(ids)).order_by(a.c.seq)):
            ents.setdefault(row.message_id, []).append(_entry(row))
        for mid in ids:
            row = rows[mid]
            out.append(ArchivableMessage(mid, bytes(row.envelope), bytes(row.envelope_sha256),
                                         tuple(recs.get(mid, ())), tuple(ents.get(mid, ()))))
    return out


def _archive(row: Any) -> ArchiveRecord:
    return ArchiveRecord(row.seq, row.name, bytes(row.sha256), row.created_us, row.messages)


def last_archive(conn: Connection) -> ArchiveRecord | None:
    a = t.archives
    row = conn.execute(select(a).order_by(a.c.seq.desc()).limit(1)).first()
    return None if row is None else _archive(row)


def archive_of(conn: Connection, message_id: str) -> ArchiveRecord | None:
    am, a = t.archived_messages, t.archives
    row = conn.execute(select(a).join(am, am.c.archive_seq == a.c.seq)
                       .where(am.c.message_id == message_id)).first()
    return None if row is None else _archive(row)


def archived_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.archived_messages)).scalar_one())


def record_archive(rec: ArchiveRecord, message_ids: Sequence[str], actor: str) -> WriteOp[list[str]]:
    """After the archive file is durable: record it as the chain's next link and prune the messages it
    holds; returns the ids pruned. A message that is no longer final (an operator retried a delivery since
    the file was written) or is already pruned is skipped: it stays whole and is archived again later."""
    def op(conn: Connection) -> list[str]:
        last = last_archive(conn)
        if (last.seq if last is not None else 0) != rec.seq - 1:
            raise FailedPrecondition(f"archive {rec.seq} does not follow the last recorded archive "
                             f"{last.seq if last is not None else 0}")
        conn.execute(insert(t.archives).values(seq=rec.seq, name=rec.name, sha256=rec.sha256,
                                               created_us=rec.created_us, messages=rec.messages))
        m = t.messages
        pruned: list[str] = []
        for k in range(0, len(message_ids), _CHUNK):
            ids = list(message_ids[k:k + _CHUNK])
            pruned += [str(x) for x in conn.execute(
                select(m.c.message_id).where(m.c.message_id.in_(ids), _not_archived(), ~_open_delivery(),
                                             ~_open_part())).scalars()]
        for k in range(0, len(pruned), _CHUNK):
            ids = pruned[k:k + _CHUNK]
            conn.execute(insert(t.archived_messages),
                         [{"message_id": i, "archive_seq": rec.seq, "archived_us": rec.created_us} for i in ids])
            _empty_envelopes(conn, ids)
        append_audit(conn, AuditEvent(ARCHIVED, actor=actor, subject=rec.name, detail={
            "seq": rec.seq, "sha256": rec.sha256.hex(), "messages": rec.messages, "pruned": len(pruned)}),
            rec.created_us)
        return pruned
    return op


def _empty_envelopes(conn: Connection, ids: list[str]) -> None:
    m = t.messages
    if conn.dialect.name != "sqlite":
        # PostgreSQL keeps large values out of line (TOAST): the update frees them for autovacuum to reuse.
        conn.execute(update(m).where(m.c.message_id.in_(ids)).values(envelope=b""))
        return
    # SQLite keeps an envelope inside its row, about one row per page, and an update leaves the page
    # allocated; rows are appended in rowid order, so that space would never be used again. Deleting the
    # row frees its page for new messages, and the row is written again at the end, small. The foreign
    # keys that point at it (deliveries, receipts, ...) are checked at commit, when it is back.
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    rows = [dict(r._mapping) for r in conn.execute(select(m).where(m.c.message_id.in_(ids)))]
    conn.execute(delete(m).where(m.c.message_id.in_(ids)))
    conn.execute(insert(m), [{**r, "envelope": b""} for r in rows])


def is_archived(conn: Connection, message_id: str) -> bool:
    am = t.archived_messages
    return conn.execute(select(am.c.message_id).where(am.c.message_id == message_id)).first() is not None
