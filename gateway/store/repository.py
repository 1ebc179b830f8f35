"""The node's repository: every query the node makes, as typed functions.

Write operations are built as functions of a connection and handed to the group-commit ``Writer``;
read operations run on the read engine. Nothing outside ``gateway.store`` sees SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from gateway.evidence import audit
from gateway.errors import AlreadyExists, NotFound
from gateway.store import schema as t
from gateway.store.batch import BatchBuffer, append_audit, append_audit_many, buffer_of, lock_audit_head
from gateway.store.engine import Writer, is_sqlite, lock_free, make_engines, translate_db_error
from gateway.store.states import ACKNOWLEDGED, DELIVERED, EXPIRED, FAILED, IN_FLIGHT, QUEUED


@dataclass(frozen=True)
class NewDelivery:
    recipient: str
    route: str  # "local" or the name of the node hosting the recipient


@dataclass(frozen=True)
class KpiFact:
    """One item of an accepted message, as the KPIs need it (see gateway.evidence.kpi)."""

    item_id: str
    outcome: str = ""
    arrival_us: int | None = None
    departure_us: int | None = None


@dataclass(frozen=True)
class KpiItemRow:
    message_id: str
    item_id: str
    document_type: str
    sender: str
    accepted_us: int
    outcome: str
    arrival_us: int | None
    departure_us: int | None


@dataclass(frozen=True)
class DeliveryFact:
    sender: str
    recipient: str
    route: str
    state: int
    attempts: int
    accepted_us: int
    updated_us: int


@dataclass(frozen=True)
class NewMessage:
    message_id: str
    conversation_id: str
    in_reply_to: str
    sender: str
    document_type: str
    submit_sha256: bytes | None
    envelope: bytes
    envelope_sha256: bytes
    created_us: int
    expires_us: int
    accepted_us: int
    origin: str
    attributes: dict[str, str]
    item_ids: tuple[str, ...]
    deliveries: tuple[NewDelivery, ...]
    audit_event: audit.AuditEvent
    kpi_facts: tuple[KpiFact, ...] = ()


@dataclass(frozen=True)
class Accepted:
    message_id: str
    conversation_id: str
    document_type: str
    recipients: tuple[str, ...]
    accepted_us: int
    duplicate: bool
    envelope_sha256: bytes


@dataclass(frozen=True)
class ReceiptRecord:
    message_id: str
    recipient: str
    kind: str
    jws: str
    envelope_sha256: bytes
    issued_us: int
    issuing_node: str


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    message_id: str
    recipient: str
    route: str
    state: int
    attempts: int
    last_error: str
    updated_us: int
    next_attempt_us: int
    sender: str
    document_type: str
    expires_us: int
    created_us: int = 0


@dataclass(frozen=True)
class MessageRecord:
    message_id: str
    conversation_id: str
    in_reply_to: str
    sender: str
    document_type: str
    envelope_sha256: bytes
    created_us: int
    expires_us: int
    accepted_us: int
    origin: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class MessageStatus:
    message: MessageRecord
    deliveries: tuple[DeliveryRecord, ...]
    receipts: tuple[ReceiptRecord, ...]


@dataclass(frozen=True)
class Claimed:
    """A delivery handed out on a Receive stream (local) or to a relay worker (peer)."""

    delivery_id: int
    message_id: str
    recipient: str
    route: str
    attempt: int
    envelope: bytes
    envelope_sha256: bytes
    expires_us: int
    created_us: int = 0


@dataclass
class AckOutcome:
    acknowledged: list[str] = field(default_factory=list)
    receipts: dict[str, ReceiptRecord] = field(default_factory=dict)


# The statements of the accept path are built once: building a Core statement per call (values()
# coercion, cache key) cost more CPU than SQLite executing it (see docs/performance.md).
_EXISTING_Q = select(t.messages.c.message_id, t.messages.c.conversation_id, t.messages.c.document_type,
                     t.messages.c.submit_sha256, t.messages.c.accepted_us, t.messages.c.envelope_sha256,
                     t.messages.c.sender).where(t.messages.c.message_id == bindparam("mid"))
_INSERT_MESSAGE = insert(t.messages)
_INSERT_ITEMS = insert(t.message_items)
_INSERT_DELIVERIES = insert(t.deliveries)
_INSERT_KPI = insert(t.kpi_items)


# Acknowledge, claim and release run once per Receive batch; their statements are built once too,
# with expanding IN parameters, and the per-message updates of an acknowledge go as one executemany.
_d, _m, _r = t.deliveries, t.messages, t.receipts
_ACKED_Q = select(_r).where(_r.c.message_id.in_(bindparam("ids", expanding=True)),
                            _r.c.recipient == bindparam("recipient"), _r.c.kind == "acknowledged")
_ACK_DELIVERY = update(_d).where(_d.c.message_id == bindparam("mid"), _d.c.recipient == bindparam("rcpt")).values(
    state=ACKNOWLEDGED, lease_owner=None, lease_expires_us=None, updated_us=bindparam("now"))
_INSERT_RECEIPT = insert(_r)
_ORIGINS_Q = select(_m.c.message_id, _m.c.origin).where(_m.c.message_id.in_(bindparam("ids", expanding=True)),
                                                         _m.c.origin != "local")
_INSERT_PEER_RECEIPT = insert(t.peer_receipts)
_CLAIM_UPDATE = update(_d).where(_d.c.id.in_(bindparam("ids", expanding=True))).values(
    state=IN_FLIGHT, attempts=_d.c.attempts + 1, lease_owner=bindparam("owner"),
    lease_expires_us=bindparam("until"), updated_us=bindparam("now"))
_CLAIMED_Q = (select(_d.c.id, _d.c.message_id, _d.c.recipient, _d.c.route, _d.c.attempts, _d.c.expires_us,
                     _d.c.created_us, _m.c.envelope, _m.c.envelope_sha256)
              .join(_m, _m.c.message_id == _d.c.message_id).where(_d.c.id.in_(bindparam("ids", expanding=True)))
              .order_by(_d.c.id))
_RELEASE = update(_d).where(_d.c.id.in_(bindparam("ids", expanding=True)), _d.c.state == IN_FLIGHT,
                            _d.c.lease_owner == bindparam("owner")).values(
    state=QUEUED, lease_owner=None, lease_expires_us=None, updated_us=bindparam("now"),
    next_attempt_us=bindparam("now"))
_DELIVERIES_FOR_Q = (select(_d, _m.c.envelope_sha256).join(_m, _m.c.message_id == _d.c.message_id)
                     .where(_d.c.recipient == bindparam("recipient"),
                            _d.c.message_id.in_(bindparam("ids", expanding=True))))


def _known(conn: Connection, msg: NewMessage, existing: Any) -> Accepted:
    """The answer to a message id that is already stored: the first acceptance again, if same content."""
    same = existing.sender == msg.sender and (
        (msg.submit_sha256 is not None and existing.submit_sha256 == msg.submit_sha256)
        or (msg.submit_sha256 is None and bytes(existing.envelope_sha256) == msg.envelope_sha256))
    if not same:
        raise AlreadyExists(f"message_id {msg.message_id!r} is already used for different content")
    recipients = conn.execute(
        select(t.deliveries.c.recipient).where(t.deliveries.c.message_id == msg.message_id)
        .order_by(t.deliveries.c.id)).scalars().all()
    return Accepted(existing.message_id, existing.conversation_id, existing.document_type,
                    tuple(recipients), existing.accepted_us, True, bytes(existing.envelope_sha256))


def _message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        message_id=row.message_id, conversation_id=row.conversation_id, in_reply_to=row.in_reply_to,
        sender=row.sender, document_type=row.document_type, envelope_sha256=bytes(row.envelope_sha256),
        created_us=row.created_us, expires_us=row.expires_us, accepted_us=row.accepted_us, origin=row.origin,
        attributes=json.loads(row.attributes or "{}"),
    )


def _delivery_record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id, message_id=row.message_id, recipient=row.recipient, route=row.route, state=row.state,
        attempts=row.attempts, last_error=row.last_error, updated_us=row.updated_us,
        next_attempt_us=row.next_attempt_us, sender=row.sender, document_type=row.document_type,
        expires_us=row.expires_us, created_us=row.created_us,
    )


def _receipt_record(row: Any) -> ReceiptRecord:
    return ReceiptRecord(message_id=row.message_id, recipient=row.recipient, kind=row.kind, jws=row.jws,
                         envelope_sha256=bytes(row.envelope_sha256), issued_us=row.issued_us,
                         issuing_node=row.issuing_node)


def _insert_receipt_once(conn: Connection, rc: ReceiptRecord) -> ReceiptRecord:
    """Store a receipt unless one of the same kind exists; the first one wins and is returned."""
    r = t.receipts
    row = conn.execute(select(r).where(r.c.message_id == rc.message_id, r.c.recipient == rc.recipient,
                                       r.c.kind == rc.kind)).first()
    if row is not None:
        return _receipt_record(row)
    conn.execute(insert(r).values(message_id=rc.message_id, recipient=rc.recipient, kind=rc.kind, jws=rc.jws,
                                  envelope_sha256=rc.envelope_sha256, issued_us=rc.issued_us,
                                  issuing_node=rc.issuing_node))
    return rc


@dataclass(frozen=True)
class PeerReceipt:
    id: int
    node: str
    receipt: ReceiptRecord


@dataclass(frozen=True)
class AssistanceCaseRecord:
    request_message_id: str
    conversation_id: str
    requesting_administration: str
    requested_administration: str
    agreement_reference: str
    requested_us: int
    deadline_us: int
    answer_message_id: str
    answered_us: int | None


class Store:
    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, max_pages: int = 0,
                 group_commit_wait_ms: float = 0.0):
        self.url = url
        self.dialect = "sqlite" if is_sqlite(url) else "postgresql"
        self._write_engine, self._read_engine = make_engines(url, busy_timeout_ms=busy_timeout_ms,
                                                             max_pages=max_pages)
        self.writer = Writer(self._write_engine,
                             before_batch=None if self.dialect == "sqlite" else lock_audit_head,
                             new_buffer=BatchBuffer, gather_wait_s=group_commit_wait_ms / 1000)

    # -- lifecycle ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Bring the database to the newest schema revision (alembic migrations)."""
        # Imported here: alembic is a large import, and a node's worker processes never migrate.
        from gateway.store import migrate

        migrate.upgrade(self.url)

    def ping(self) -> None:
        try:
            with self._read_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise translate_db_error(exc) from exc

    def close(self) -> None:
        self.writer.close()
        self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            self._read_engine.dispose()

    def _read(self) -> Any:
        return self._read_engine.connect()

    # -- writes (each returns an operation for the Writer) -----------------------------------------

    @staticmethod
    def op_accept(msg: NewMessage, *, buffered: bool = True) -> Any:
        """Store a new message with its deliveries, KPI facts and ACCEPTED audit entry; a known id with the
        same content (same sender and submit digest, or envelope digest when relayed) answers the first
        acceptance again, other content under a known id is ``AlreadyExists``.

        In a buffered batch (gateway.store.batch) the rows are written at the end of the batch and the
        duplicate check is the message primary key: a clash makes the Writer rerun the batch unbuffered,
        where this op checks first. ``buffered=False`` for ops that must see the message row at once.
        """
        def op(conn: Connection) -> Accepted:
            buf = buffer_of(conn) if buffered else None
            if buf is None:
                existing = conn.execute(_EXISTING_Q, {"mid": msg.message_id}).first()
                if existing is not None:
                    return _known(conn, msg, existing)
            write = buf.insert if buf is not None else conn.execute
            accepted, expires = msg.accepted_us, msg.expires_us
            write(_INSERT_MESSAGE, {
                "message_id": msg.message_id, "conversation_id": msg.conversation_id, "in_reply_to": msg.in_reply_to,
                "sender": msg.sender, "document_type": msg.document_type, "submit_sha256": msg.submit_sha256,
                "envelope": msg.envelope, "envelope_sha256": msg.envelope_sha256, "created_us": msg.created_us,
                "expires_us": expires, "accepted_us": accepted, "origin": msg.origin,
                "attributes": json.dumps(msg.attributes, sort_keys=True),
            })
            if msg.item_ids:
                write(_INSERT_ITEMS, [
                    {"item_id": i, "message_id": msg.message_id, "sender": msg.sender,
                     "document_type": msg.document_type, "accepted_us": accepted}
                    for i in dict.fromkeys(msg.item_ids)])
            write(_INSERT_DELIVERIES, [
                {"message_id": msg.message_id, "recipient": d.recipient, "route": d.route, "state": QUEUED,
                 "attempts": 0, "next_attempt_us": accepted, "last_error": "", "created_us": accepted,
                 "updated_us": accepted, "expires_us": expires, "sender": msg.sender,
                 "document_type": msg.document_type}
                for d in msg.deliveries])
            if msg.kpi_facts:
                write(_INSERT_KPI, [
                    {"message_id": msg.message_id, "item_id": f.item_id, "document_type": msg.document_type,
                     "sender": msg.sender, "accepted_us": accepted, "outcome": f.outcome,
                     "arrival_us": f.arrival_us, "departure_us": f.departure_us}
                    for f in {f.item_id: f for f in msg.kpi_facts}.values()])
            append_audit(conn, msg.audit_event, accepted)
            return Accepted(msg.message_id, msg.conversation_id, msg.document_type,
                            tuple(d.recipient for d in msg.deliveries), accepted, False, msg.envelope_sha256)
        return op

    @staticmethod
    def op_audit(events: Sequence[audit.AuditEvent], at_us: int) -> Any:
        def op(conn: Connection) -> list[int]:
            return append_audit_many(conn, events, at_us)
        return op

    @staticmethod
    def op_checkpoint(cp: audit.Checkpoint) -> Any:
        def op(conn: Connection) -> bool:
            c = t.audit_checkpoints
            # The worker and an evidence export may both sign the same head: the first one stays.
            if conn.execute(select(c.c.seq).where(c.c.seq == cp.seq)).first() is not None:
                return False
            conn.execute(insert(c).values(seq=cp.seq, head_hash=cp.head_hash, at_us=cp.at_us, node=cp.node,
                                          jws=cp.jws))
            return True
        return op

    @staticmethod
    def op_claim(*, recipient: str | None, route: str, owner: str, limit: int, now_us: int, lease_us: int,
                 document_types: Sequence[str] = ()) -> Any:
        """Take up to ``limit`` due deliveries (queued, or in flight with an expired lease)."""
        d = t.deliveries

        def op(conn: Connection) -> list[Claimed]:
            # Two walks in id order, each stopping at ``limit`` (indexes (recipient, state, id) and (route,
            # state, id)): one condition with OR made the database collect and sort every due delivery of
            # the recipient first, which grew with the queue (56 ms per claim with 50,000 queued).
            # "+ 0": the expiry is checked on the rows the walk meets, not used to pick an index (SQLite,
            # without statistics, would prefer the (state, expires_us) range and then sort all of it).
            common = [d.c.route == route, (d.c.expires_us + 0) > now_us]
            if recipient is not None:
                common.append(d.c.recipient == recipient)
            if document_types:
                common.append(d.c.document_type.in_(list(document_types)))
            ids: list[int] = []
            for due in (and_(d.c.state == IN_FLIGHT, d.c.lease_expires_us < now_us),
                        and_(d.c.state == QUEUED, d.c.next_attempt_us <= now_us)):
                q = select(d.c.id).where(due, *common).order_by(d.c.id).limit(limit)
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                ids.extend(conn.execute(q).scalars().all())
            if not ids:
                return []
            ids = sorted(ids)[:limit]
            conn.execute(_CLAIM_UPDATE, {"ids": ids, "owner": owner, "until": now_us + lease_us, "now": now_us})
            rows = conn.execute(_CLAIMED_Q, {"ids": ids}).all()
            return [Claimed(r.id, r.message_id, r.recipient, r.route, r.attempts, bytes(r.envelope),
                            bytes(r.envelope_sha256), r.expires_us, r.created_us) for r in rows]
        # SKIP LOCKED never waits, and a claim appends no audit entry: it need not queue behind the head lock.
        return lock_free(op)

    @staticmethod
    def op_release(delivery_ids: Sequence[int], owner: str, now_us: int) -> Any:
        """Give back in-flight deliveries of a stream that ended, so they are delivered again at once."""
        def op(conn: Connection) -> int:
            if not delivery_ids:
                return 0
            res = conn.execute(_RELEASE, {"ids": list(delivery_ids), "owner": owner, "now": now_us})
            return int(res.rowcount or 0)
        return op

    @staticmethod
    def op_release_all_leases(route: str, now_us: int) -> Any:
        def op(conn: Connection) -> int:
            d = t.deliveries
            res = conn.execute(update(d).where(d.c.route == route, d.c.state == IN_FLIGHT)
                               .values(state=QUEUED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                       next_attempt_us=now_us))
            return int(res.rowcount or 0)
        return op

    @staticmethod
    def op_acknowledge(recipient: str, receipts: Sequence[ReceiptRecord], events: Sequence[audit.AuditEvent],
                       now_us: int) -> Any:
        """Mark deliveries acknowledged and store their receipts; an earlier receipt wins (idempotent)."""
        def op(conn: Connection) -> AckOutcome:
            out = AckOutcome()
            ids = [rc.message_id for rc in receipts]
            existing = {row.message_id: _receipt_record(row)
                        for row in conn.execute(_ACKED_Q, {"ids": ids, "recipient": recipient})}
            new: list[ReceiptRecord] = []
            new_events: list[audit.AuditEvent] = []
            for rc, ev in zip(receipts, events):
                if rc.message_id in existing:
                    out.receipts[rc.message_id] = existing[rc.message_id]
                    continue
                new.append(rc)
                new_events.append(ev)
                out.acknowledged.append(rc.message_id)
                out.receipts[rc.message_id] = rc
            if not new:
                return out
            conn.execute(_ACK_DELIVERY, [{"mid": rc.message_id, "rcpt": recipient, "now": now_us} for rc in new])
            conn.execute(_INSERT_RECEIPT, [
                {"message_id": rc.message_id, "recipient": rc.recipient, "kind": rc.kind, "jws": rc.jws,
                 "envelope_sha256": rc.envelope_sha256, "issued_us": rc.issued_us, "issuing_node": rc.issuing_node}
                for rc in new])
            append_audit_many(conn, new_events, now_us)
            # A message relayed in from a peer node: its acknowledged receipt goes back there (outbox).
            origins = dict(conn.execute(_ORIGINS_Q, {"ids": [rc.message_id for rc in new]}).all())
            peer = [{"node": origins[rc.message_id], "message_id": rc.message_id, "recipient": rc.recipient,
                     "jws": rc.jws, "envelope_sha256": rc.envelope_sha256, "issued_us": rc.issued_us,
                     "issuing_node": rc.issuing_node, "sent": 0} for rc in new if origins.get(rc.message_id)]
            if peer:
                conn.execute(_INSERT_PEER_RECEIPT, peer)
            return out
        return op

    @staticmethod
    def op_fail(delivery_id: int, error: str, event: audit.AuditEvent, now_us: int) -> Any:
        """A delivery that can never succeed (e.g. the envelope does not open for its recipient)."""
        def op(conn: Connection) -> None:
            d = t.deliveries
            conn.execute(update(d).where(d.c.id == delivery_id).values(
                state=FAILED, lease_owner=None, lease_expires_us=None, updated_us=now_us, last_error=error[:500]))
            append_audit(conn, event, now_us)
        return op

    @staticmethod
    def op_expire(now_us: int, limit: int = 1000) -> Any:
        """Turn undelivered deliveries past their message's expiry into EXPIRED, each audited."""
        def op(conn: Connection) -> list[DeliveryRecord]:
            d = t.deliveries
            rows = conn.execute(select(d).where(d.c.state.in_([QUEUED, IN_FLIGHT]), d.c.expires_us <= now_us)
                                .order_by(d.c.id).limit(limit)).all()
            if not rows:
                return []
            conn.execute(update(d).where(d.c.id.in_([r.id for r in rows]))
                         .values(state=EXPIRED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                 last_error="expired before delivery"))
            append_audit_many(conn, [audit.AuditEvent(audit.EXPIRED, r.message_id, subject=r.recipient,
                                                       detail={"attempts": r.attempts}) for r in rows], now_us)
            return [_delivery_record(r) for r in rows]
        return op

    @staticmethod
    def op_retry(message_ids: Sequence[str], recipient: str | None, now_us: int, actor: str) -> Any:
        """Operator retry: FAILED or EXPIRED deliveries back to QUEUED (expiry extended if it passed)."""
        def op(conn: Connection) -> int:
            d = t.deliveries
            cond = [d.c.message_id.in_(list(message_ids)), d.c.state.in_([FAILED, EXPIRED])]
            if recipient:
                cond.append(d.c.recipient == recipient)
            rows = conn.execute(select(d.c.id, d.c.message_id, d.c.recipient, d.c.expires_us).where(*cond)).all()
            for r in rows:
                conn.execute(update(d).where(d.c.id == r.id).values(
                    state=QUEUED, next_attempt_us=now_us, updated_us=now_us, last_error="",
                    expires_us=max(r.expires_us, now_us + 86_400_000_000)))
                append_audit(conn, audit.AuditEvent(audit.RETRIED, r.message_id, actor=actor, subject=r.recipient),
                              now_us)
            return len(rows)
        return op

    # -- federation: relay in and out ---------------------------------------------------------------

    @staticmethod
    def op_accept_relayed(msg: NewMessage, receipts: Sequence[ReceiptRecord]) -> Any:
        """Store a message relayed in by a peer with its "delivered" receipts; on a duplicate (same id,
        same envelope digest) the receipts stored the first time are returned instead (AS4-style)."""
        # Unbuffered: the receipts below refer to the message row.
        accept = Store.op_accept(msg, buffered=False)

        def op(conn: Connection) -> tuple[Accepted, list[ReceiptRecord]]:
            acc = accept(conn)
            return acc, [_insert_receipt_once(conn, rc) for rc in receipts]
        return op

    @staticmethod
    def op_relayed(delivery_ids: Sequence[int], receipts: Sequence[ReceiptRecord],
                   events: Sequence[audit.AuditEvent], now_us: int) -> Any:
        """The peer node took the message over: deliveries DELIVERED (unless already acknowledged)."""
        def op(conn: Connection) -> None:
            d = t.deliveries
            conn.execute(update(d).where(d.c.id.in_(list(delivery_ids)), d.c.state.in_([QUEUED, IN_FLIGHT]))
                         .values(state=DELIVERED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                 last_error=""))
            for rc in receipts:
                _insert_receipt_once(conn, rc)
            for ev in events:
                append_audit(conn, ev, now_us)
        return op

    @staticmethod
    def op_retry_later(delivery_ids: Sequence[int], owner: str, error: str, next_attempt_us: int,
                       max_attempts: int, now_us: int) -> Any:
        """A relay attempt failed for a passing reason: back to the queue, or FAILED after max_attempts."""
        def op(conn: Connection) -> list[str]:
            d = t.deliveries
            ids = list(delivery_ids)
            conn.execute(update(d).where(d.c.id.in_(ids), d.c.state == IN_FLIGHT, d.c.lease_owner == owner)
                         .values(state=QUEUED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                 next_attempt_us=next_attempt_us, last_error=error[:500]))
            failed: list[str] = []
            if max_attempts > 0:
                rows = conn.execute(select(d.c.id, d.c.message_id, d.c.recipient)
                                    .where(d.c.id.in_(ids), d.c.state == QUEUED,
                                           d.c.attempts >= max_attempts)).all()
                for r in rows:
                    conn.execute(update(d).where(d.c.id == r.id).values(
                        state=FAILED, last_error=f"gave up after {max_attempts} attempts: {error}"[:500]))
                    append_audit(conn, audit.AuditEvent(audit.FAILED, r.message_id, subject=r.recipient, detail={
                        "reason": error[:200], "attempts": max_attempts}), now_us)
                    failed.append(r.message_id)
            return failed
        return op

    @staticmethod
    def op_fail_many(delivery_ids: Sequence[int], error: str, events: Sequence[audit.AuditEvent], now_us: int) -> Any:
        def op(conn: Connection) -> None:
            d = t.deliveries
            conn.execute(update(d).where(d.c.id.in_(list(delivery_ids))).values(
                state=FAILED, lease_owner=None, lease_expires_us=None, updated_us=now_us, last_error=error[:500]))
            for ev in events:
                append_audit(conn, ev, now_us)
        return op

    @staticmethod
    def op_peer_acknowledged(receipt: ReceiptRecord, route: str, event: audit.AuditEvent, now_us: int) -> Any:
        """An "acknowledged" receipt came back from the recipient's node: delivery ACKNOWLEDGED."""
        def op(conn: Connection) -> bool:
            d = t.deliveries
            stored = _insert_receipt_once(conn, receipt)
            if stored is not receipt:
                return False
            conn.execute(update(d).where(d.c.message_id == receipt.message_id, d.c.recipient == receipt.recipient,
                                         d.c.route == route)
                         .values(state=ACKNOWLEDGED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                 last_error=""))
            append_audit(conn, event, now_us)
            return True
        return op

    @staticmethod
    def op_peer_receipts_sent(ids: Sequence[int]) -> Any:
        def op(conn: Connection) -> None:
            conn.execute(update(t.peer_receipts).where(t.peer_receipts.c.id.in_(list(ids))).values(sent=1))
        return op

    def pending_peer_receipts(self, node: str, limit: int) -> list[PeerReceipt]:
        p = t.peer_receipts
        with self._read() as conn:
            rows = conn.execute(select(p).where(p.c.node == node, p.c.sent == 0).order_by(p.c.id).limit(limit)).all()
        return [PeerReceipt(r.id, r.node, ReceiptRecord(r.message_id, r.recipient, "acknowledged", r.jws,
                                                        bytes(r.envelope_sha256), r.issued_us, r.issuing_node))
                for r in rows]

    def has_due_relay(self, route: str, now_us: int) -> bool:
        d = t.deliveries
        with self._read() as conn:
            row = conn.execute(select(d.c.id).where(
                d.c.route == route, d.c.expires_us > now_us,
                or_(and_(d.c.state == QUEUED, d.c.next_attempt_us <= now_us),
                    and_(d.c.state == IN_FLIGHT, d.c.lease_expires_us < now_us))).limit(1)).first()
        return row is not None

    # -- mutual assistance case metadata -------------------------------------------------------------

    @staticmethod
    def op_assistance_case(case: AssistanceCaseRecord) -> Any:
        def op(conn: Connection) -> None:
            a = t.assistance_cases
            if conn.execute(select(a.c.request_message_id)
                            .where(a.c.request_message_id == case.request_message_id)).first() is None:
                conn.execute(insert(a).values(**case.__dict__))
        return op

    @staticmethod
    def op_assistance_answered(request_message_id: str, answer_message_id: str, at_us: int) -> Any:
        def op(conn: Connection) -> None:
            a = t.assistance_cases
            conn.execute(update(a).where(a.c.request_message_id == request_message_id, a.c.answer_message_id == "")
                         .values(answer_message_id=answer_message_id, answered_us=at_us))
        return op

    def assistance_cases(self, participant: str, only_open: bool) -> list[AssistanceCaseRecord]:
        a = t.assistance_cases
        cond = [or_(a.c.requesting_administration == participant, a.c.requested_administration == participant)]
        if only_open:
            cond.append(a.c.answer_message_id == "")
        with self._read() as conn:
            rows = conn.execute(select(a).where(*cond).order_by(a.c.deadline_us)).all()
        return [AssistanceCaseRecord(r.request_message_id, r.conversation_id, r.requesting_administration,
                                     r.requested_administration, r.agreement_reference, r.requested_us,
                                     r.deadline_us, r.answer_message_id, r.answered_us) for r in rows]

    # -- reads -------------------------------------------------------------------------------------

    def message_exists(self, message_id: str) -> tuple[bytes | None, str] | None:
        """(submit digest, sender) of a stored message, or None."""
        with self._read() as conn:
            row = conn.execute(select(t.messages.c.submit_sha256, t.messages.c.sender)
                               .where(t.messages.c.message_id == message_id)).first()
        return None if row is None else (bytes(row.submit_sha256) if row.submit_sha256 else None, row.sender)

    def message(self, message_id: str) -> MessageRecord:
        with self._read() as conn:
            row = conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
        if row is None:
            raise NotFound(f"no message {message_id!r}")
        return _message_record(row)

    def envelope(self, message_id: str) -> bytes:
        with self._read() as conn:
            data = conn.execute(select(t.messages.c.envelope)
                                .where(t.messages.c.message_id == message_id)).scalar_one_or_none()
        if data is None:
            raise NotFound(f"no message {message_id!r}")
        return bytes(data)

    def status(self, message_id: str) -> MessageStatus:
        with self._read() as conn:
            row = conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
            if row is None:
                raise NotFound(f"no message {message_id!r}")
            dels = conn.execute(select(t.deliveries).where(t.deliveries.c.message_id == message_id)
                                .order_by(t.deliveries.c.id)).all()
            recs = conn.execute(select(t.receipts).where(t.receipts.c.message_id == message_id)
                                .order_by(t.receipts.c.id)).all()
        return MessageStatus(_message_record(row), tuple(_delivery_record(d) for d in dels),
                             tuple(_receipt_record(r) for r in recs))

    def deliveries_for(self, recipient: str, message_ids: Sequence[str]) -> dict[str, tuple[DeliveryRecord, bytes]]:
        """Deliveries of ``message_ids`` to ``recipient`` with each message's envelope digest."""
        with self._read() as conn:
            rows = conn.execute(_DELIVERIES_FOR_Q, {"recipient": recipient, "ids": list(message_ids)}).all()
        return {r.message_id: (_delivery_record(r), bytes(r.envelope_sha256)) for r in rows}

    def sender_of(self, message_id: str) -> str | None:
        with self._read() as conn:
            return conn.execute(select(t.messages.c.sender)
                                .where(t.messages.c.message_id == message_id)).scalar_one_or_none()

    def parties_of(self, message_id: str) -> tuple[str, str, tuple[str, ...]] | None:
        """(sender, conversation id, recipients) of a stored message."""
        with self._read() as conn:
            row = conn.execute(select(t.messages.c.sender, t.messages.c.conversation_id)
                               .where(t.messages.c.message_id == message_id)).first()
            if row is None:
                return None
            recipients = conn.execute(select(t.deliveries.c.recipient)
                                      .where(t.deliveries.c.message_id == message_id)).scalars().all()
        return row.sender, row.conversation_id, tuple(recipients)

    def _latest_per_item(self, item_ids: Iterable[str], document_type: str, column: str) -> dict[str, str]:
        mi = t.message_items
        out: dict[str, str] = {}
        with self._read() as conn:
            rows = conn.execute(select(mi.c.item_id, mi.c[column])
                                .where(mi.c.item_id.in_(list(dict.fromkeys(item_ids))),
                                       mi.c.document_type == document_type)
                                .order_by(mi.c.accepted_us)).all()
        for item_id, value in rows:
            out[item_id] = value  # ordered by time: the latest wins
        return out

    def senders_of_items(self, item_ids: Iterable[str], document_type: str) -> dict[str, str]:
        """item id → the participant that sent its latest ``document_type`` message (e.g. its AED)."""
        return self._latest_per_item(item_ids, document_type, "sender")

    def messages_of_items(self, item_ids: Iterable[str], document_type: str) -> dict[str, str]:
        """item id → id of its latest ``document_type`` message (e.g. the AED that declared it)."""
        return self._latest_per_item(item_ids, document_type, "message_id")

    def list_deliveries(self, states: Sequence[int], recipient: str | None, limit: int) -> list[DeliveryRecord]:
        d = t.deliveries
        cond = []
        if states:
            cond.append(d.c.state.in_(list(states)))
        if recipient:
            cond.append(d.c.recipient == recipient)
        with self._read() as conn:
            rows = conn.execute(select(d).where(*cond).order_by(d.c.id).limit(limit)).all()
        return [_delivery_record(r) for r in rows]

    def has_pending(self, recipient: str, now_us: int) -> bool:
        d = t.deliveries
        with self._read() as conn:
            row = conn.execute(select(d.c.id).where(
                d.c.recipient == recipient, d.c.route == "local", d.c.expires_us > now_us,
                or_(and_(d.c.state == QUEUED, d.c.next_attempt_us <= now_us),
                    and_(d.c.state == IN_FLIGHT, d.c.lease_expires_us < now_us))).limit(1)).first()
        return row is not None

    def queue_depths(self) -> dict[str, int]:
        d = t.deliveries
        with self._read() as conn:
            rows = conn.execute(select(d.c.recipient, func.count()).where(d.c.state.in_([QUEUED, IN_FLIGHT]))
                                .group_by(d.c.recipient)).all()
        return {r[0]: int(r[1]) for r in rows}

    def audit_entries(self, batch: int = 5000, first: int = 1, last_seq: int | None = None
                      ) -> Iterator[audit.AuditEntry]:
        """Audit entries in storage (primary key) order, read in pages; all of them by default."""
        a = t.audit_log
        last = first - 1
        while True:
            cond = [a.c.seq > last] + ([a.c.seq <= last_seq] if last_seq is not None else [])
            with self._read() as conn:
                rows = conn.execute(select(a).where(*cond).order_by(a.c.seq).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield audit.AuditEntry(r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail,
                                       bytes(r.prev_hash), bytes(r.entry_hash))
            last = rows[-1].seq

    def audit_head(self) -> tuple[int, bytes] | None:
        with self._read() as conn:
            row = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.entry_hash)
                               .where(t.audit_head.c.id == 1)).first()
        # seq 0 is the genesis row the migrations put in place: no entry yet.
        return None if row is None or row.seq == 0 else (row.seq, bytes(row.entry_hash))

    def count(self, table: str) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())


    # -- evidence and KPI reads --------------------------------------------------------------------

    def audit_checkpoints(self) -> list[audit.Checkpoint]:
        c = t.audit_checkpoints
        with self._read() as conn:
            rows = conn.execute(select(c).order_by(c.c.seq)).all()
        return [audit.Checkpoint(r.seq, bytes(r.head_hash), r.at_us, r.node, r.jws) for r in rows]

    def last_checkpoint(self) -> audit.Checkpoint | None:
        c = t.audit_checkpoints
        with self._read() as conn:
            r = conn.execute(select(c).order_by(c.c.seq.desc()).limit(1)).first()
        return None if r is None else audit.Checkpoint(r.seq, bytes(r.head_hash), r.at_us, r.node, r.jws)

    def audit_entry(self, seq: int) -> audit.AuditEntry | None:
        return next(self.audit_entries(batch=1, first=seq, last_seq=seq), None)

    def audit_seqs_of(self, message_id: str) -> list[int]:
        a = t.audit_log
        with self._read() as conn:
            return [int(s) for s in conn.execute(select(a.c.seq).where(a.c.message_id == message_id)
                                                 .order_by(a.c.seq)).scalars()]

    def last_audit_of(self, event: str, actor: str) -> audit.AuditEntry | None:
        a = t.audit_log
        with self._read() as conn:
            seq = conn.execute(select(func.max(a.c.seq)).where(a.c.event == event, a.c.actor == actor)).scalar()
        return None if seq is None else self.audit_entry(int(seq))

    def receipts_of(self, message_id: str) -> list[ReceiptRecord]:
        r = t.receipts
        with self._read() as conn:
            rows = conn.execute(select(r).where(r.c.message_id == message_id).order_by(r.c.id)).all()
        return [_receipt_record(row) for row in rows]

    def kpi_items(self, aed_type: str, from_us: int, to_us: int) -> list[KpiItemRow]:
        """Rows of every item whose first AED was accepted in [from_us, to_us), with all its facts."""
        k = t.kpi_items
        first_aed = (select(k.c.item_id).where(k.c.document_type == aed_type).group_by(k.c.item_id)
                     .having(and_(func.min(k.c.accepted_us) >= from_us, func.min(k.c.accepted_us) < to_us)))
        with self._read() as conn:
            rows = conn.execute(select(k).where(k.c.item_id.in_(first_aed))
                                .order_by(k.c.item_id, k.c.accepted_us)).all()
        return [KpiItemRow(r.message_id, r.item_id, r.document_type, r.sender, r.accepted_us, r.outcome,
                           r.arrival_us, r.departure_us) for r in rows]

    def delivery_facts(self, from_us: int, to_us: int) -> list[DeliveryFact]:
        """Deliveries of messages accepted in [from_us, to_us)."""
        d, m = t.deliveries, t.messages
        with self._read() as conn:
            rows = conn.execute(select(m.c.sender, d.c.recipient, d.c.route, d.c.state, d.c.attempts,
                                       m.c.accepted_us, d.c.updated_us)
                                .join(m, m.c.message_id == d.c.message_id)
                                .where(m.c.accepted_us >= from_us, m.c.accepted_us < to_us)).all()
        return [DeliveryFact(r.sender, r.recipient, r.route, r.state, r.attempts, r.accepted_us, r.updated_us)
                for r in rows]

    def audit_events_between(self, event: str, from_us: int, to_us: int) -> list[audit.AuditEntry]:
        a = t.audit_log
        with self._read() as conn:
            rows = conn.execute(select(a).where(a.c.event == event, a.c.at_us >= from_us, a.c.at_us < to_us)
                                .order_by(a.c.seq)).all()
        return [audit.AuditEntry(r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail,
                                 bytes(r.prev_hash), bytes(r.entry_hash)) for r in rows]
