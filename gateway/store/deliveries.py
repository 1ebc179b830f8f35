"""Deliveries to hosted recipients: claim, release, acknowledge, fail, expire, operator retry, and reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, insert, or_, select, update

import gateway.store.audit_log as audit
import gateway.store.schema as t
from gateway.store.batch import append_audit, append_audit_many
from gateway.store.engine import WriteOp, lock_free
from gateway.store.records import AckOutcome, Claimed, DeliveryRecord, ReceiptRecord, delivery_record, receipt_record
from gateway.store.states import ACKNOWLEDGED, EXPIRED, FAILED, IN_FLIGHT, QUEUED

# Acknowledge, claim and release run once per Receive batch; their statements are built once,
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


def claim(*, recipient: str | None, route: str, owner: str, limit: int, now_us: int, lease_us: int,
          document_types: Sequence[str] = ()) -> WriteOp[list[Claimed]]:
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


def release(delivery_ids: Sequence[int], owner: str, now_us: int) -> WriteOp[int]:
    """Give back in-flight deliveries of a stream that ended, so they are delivered again at once."""
    def op(conn: Connection) -> int:
        if not delivery_ids:
            return 0
        res = conn.execute(_RELEASE, {"ids": list(delivery_ids), "owner": owner, "now": now_us})
        return int(res.rowcount or 0)
    return op


def release_all_leases(route: str, now_us: int) -> WriteOp[int]:
    def op(conn: Connection) -> int:
        d = t.deliveries
        res = conn.execute(update(d).where(d.c.route == route, d.c.state == IN_FLIGHT)
                           .values(state=QUEUED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                                   next_attempt_us=now_us))
        return int(res.rowcount or 0)
    return op


def acknowledge(recipient: str, receipts: Sequence[ReceiptRecord], events: Sequence[audit.AuditEvent],
                now_us: int) -> WriteOp[AckOutcome]:
    """Mark deliveries acknowledged and store their receipts; an earlier receipt wins (idempotent)."""
    def op(conn: Connection) -> AckOutcome:
        out = AckOutcome()
        ids = [rc.message_id for rc in receipts]
        existing = {row.message_id: receipt_record(row)
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


def fail(delivery_id: int, error: str, event: audit.AuditEvent, now_us: int) -> WriteOp[None]:
    """A delivery that can never succeed (e.g. the envelope does not open for its recipient)."""
    def op(conn: Connection) -> None:
        d = t.deliveries
        conn.execute(update(d).where(d.c.id == delivery_id).values(
            state=FAILED, lease_owner=None, lease_expires_us=None, updated_us=now_us, last_error=error[:500]))
        append_audit(conn, event, now_us)
    return op


def expire(now_us: int, limit: int = 1000) -> WriteOp[list[DeliveryRecord]]:
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
        return [delivery_record(r) for r in rows]
    return op


def retry(message_ids: Sequence[str], recipient: str | None, now_us: int, actor: str,
          detail: dict[str, str] | None = None) -> WriteOp[int]:
    """Operator retry: FAILED or EXPIRED deliveries back to QUEUED (expiry extended if it passed), with a fresh
    count of attempts ([delivery] max_attempts would fail them again at once); the audit keeps the history."""
    def op(conn: Connection) -> int:
        d = t.deliveries
        cond: list[ColumnElement[bool]] = [d.c.message_id.in_(list(message_ids)), d.c.state.in_([FAILED, EXPIRED]),
                                           # an archived message has no envelope left to deliver
                                           d.c.message_id.not_in(select(t.archived_messages.c.message_id))]
        if recipient:
            cond.append(d.c.recipient == recipient)
        rows = conn.execute(select(d.c.id, d.c.message_id, d.c.recipient, d.c.expires_us).where(*cond)).all()
        for r in rows:
            conn.execute(update(d).where(d.c.id == r.id).values(
                state=QUEUED, next_attempt_us=now_us, updated_us=now_us, last_error="", attempts=0,
                expires_us=max(r.expires_us, now_us + 86_400_000_000)))
            append_audit(conn, audit.AuditEvent(audit.RETRIED, r.message_id, actor=actor, subject=r.recipient,
                                                detail=dict(detail or {})), now_us)
        return len(rows)
    return op


# -- reads -----------------------------------------------------------------------------------------

def deliveries_for(conn: Connection, recipient: str, message_ids: Sequence[str]
                   ) -> dict[str, tuple[DeliveryRecord, bytes]]:
    rows = conn.execute(_DELIVERIES_FOR_Q, {"recipient": recipient, "ids": list(message_ids)}).all()
    return {r.message_id: (delivery_record(r), bytes(r.envelope_sha256)) for r in rows}


def list_deliveries(conn: Connection, states: Sequence[int], recipient: str | None, limit: int
                    ) -> list[DeliveryRecord]:
    d = t.deliveries
    cond: list[ColumnElement[bool]] = []
    if states:
        cond.append(d.c.state.in_(list(states)))
    if recipient:
        cond.append(d.c.recipient == recipient)
    rows = conn.execute(select(d).where(*cond).order_by(d.c.id).limit(limit)).all()
    return [delivery_record(r) for r in rows]


def has_pending(conn: Connection, recipient: str, now_us: int) -> bool:
    d = t.deliveries
    row = conn.execute(select(d.c.id).where(
        d.c.recipient == recipient, d.c.route == "local", d.c.expires_us > now_us,
        or_(and_(d.c.state == QUEUED, d.c.next_attempt_us <= now_us),
            and_(d.c.state == IN_FLIGHT, d.c.lease_expires_us < now_us))).limit(1)).first()
    return row is not None


def queue_depths(conn: Connection) -> dict[str, int]:
    d = t.deliveries
    rows = conn.execute(select(d.c.recipient, func.count()).where(d.c.state.in_([QUEUED, IN_FLIGHT]))
                        .group_by(d.c.recipient)).all()
    return {r[0]: int(r[1]) for r in rows}
