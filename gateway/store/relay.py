"""Federation: messages relayed in from peer nodes, relay attempts out, and the receipts going back."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, case, exists, insert, or_, select, update

import gateway.store.audit_log as audit
import gateway.store.schema as t
from gateway.store import messages
from gateway.store.batch import append_audit
from gateway.store.engine import WriteOp
from gateway.store.records import Accepted, NewMessage, PeerReceipt, ReceiptRecord, receipt_record
from gateway.store.states import ACKNOWLEDGED, DELIVERED, FAILED, IN_FLIGHT, QUEUED


def _insert_receipt_once(conn: Connection, rc: ReceiptRecord) -> ReceiptRecord:
    """Store a receipt unless one of the same kind exists; the first one wins and is returned."""
    r = t.receipts
    row = conn.execute(select(r).where(r.c.message_id == rc.message_id, r.c.recipient == rc.recipient,
                                       r.c.kind == rc.kind)).first()
    if row is not None:
        return receipt_record(row)
    conn.execute(insert(r).values(message_id=rc.message_id, recipient=rc.recipient, kind=rc.kind, jws=rc.jws,
                                  envelope_sha256=rc.envelope_sha256, issued_us=rc.issued_us,
                                  issuing_node=rc.issuing_node))
    return rc


def accept_relayed(msg: NewMessage, receipts: Sequence[ReceiptRecord]
                   ) -> WriteOp[tuple[Accepted, list[ReceiptRecord]]]:
    """Store a message relayed in by a peer with its "delivered" receipts; on a duplicate (same id,
    same envelope digest) the receipts stored the first time are returned instead (AS4-style)."""
    # Unbuffered: the receipts below refer to the message row.
    accept = messages.accept(msg, buffered=False)

    def op(conn: Connection) -> tuple[Accepted, list[ReceiptRecord]]:
        acc = accept(conn)
        return acc, [_insert_receipt_once(conn, rc) for rc in receipts]
    return op


def relayed(delivery_ids: Sequence[int], receipts: Sequence[ReceiptRecord], events: Sequence[audit.AuditEvent],
            now_us: int) -> WriteOp[None]:
    """The peer node took the message over: deliveries DELIVERED (unless already acknowledged), or
    ACKNOWLEDGED at once when the recipient's acknowledged receipt came home before this answer."""
    def op(conn: Connection) -> None:
        d, r = t.deliveries, t.receipts
        acked = exists(select(r.c.message_id).where(r.c.message_id == d.c.message_id,
                                                    r.c.recipient == d.c.recipient, r.c.kind == "acknowledged"))
        conn.execute(update(d).where(d.c.id.in_(list(delivery_ids)), d.c.state.in_([QUEUED, IN_FLIGHT]))
                     .values(state=case((acked, ACKNOWLEDGED), else_=DELIVERED), lease_owner=None,
                             lease_expires_us=None, updated_us=now_us, last_error=""))
        for rc in receipts:
            _insert_receipt_once(conn, rc)
        for ev in events:
            append_audit(conn, ev, now_us)
    return op


def retry_later(delivery_ids: Sequence[int], owner: str, error: str, next_attempt_us: int, max_attempts: int,
                now_us: int) -> WriteOp[list[str]]:
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


def link_down(route: str, error: str, next_attempt_us: int, now_us: int) -> WriteOp[int]:
    """A peer link went down: every delivery waiting for it shows why and when the link tries again."""
    def op(conn: Connection) -> int:
        d = t.deliveries
        res = conn.execute(update(d).where(d.c.route == route, d.c.state == QUEUED).values(
            last_error=error[:500], updated_us=now_us,
            next_attempt_us=case((d.c.next_attempt_us < next_attempt_us, next_attempt_us),
                                 else_=d.c.next_attempt_us)))
        return int(res.rowcount or 0)
    return op


def fail_many(delivery_ids: Sequence[int], error: str, events: Sequence[audit.AuditEvent],
              now_us: int) -> WriteOp[None]:
    def op(conn: Connection) -> None:
        d = t.deliveries
        conn.execute(update(d).where(d.c.id.in_(list(delivery_ids))).values(
            state=FAILED, lease_owner=None, lease_expires_us=None, updated_us=now_us, last_error=error[:500]))
        for ev in events:
            append_audit(conn, ev, now_us)
    return op


def peer_acknowledged(receipt: ReceiptRecord, route: str, event: audit.AuditEvent, now_us: int) -> WriteOp[bool]:
    """An "acknowledged" receipt came back from the recipient's node: delivery ACKNOWLEDGED.

    Unless the relay answer with the "delivered" receipt is still missing (the peer stored the message,
    its recipient acknowledged, and the answer was lost, e.g. the peer died first): such a delivery stays
    in the relay queue, the link sends the envelope again, the peer answers DUPLICATE with the first
    receipts, and ``relayed`` then stores them, audits ``relayed`` and makes it ACKNOWLEDGED."""
    def op(conn: Connection) -> bool:
        d = t.deliveries
        stored = _insert_receipt_once(conn, receipt)
        if stored is not receipt:
            return False
        conn.execute(update(d).where(d.c.message_id == receipt.message_id, d.c.recipient == receipt.recipient,
                                     d.c.route == route, d.c.state.not_in([QUEUED, IN_FLIGHT]))
                     .values(state=ACKNOWLEDGED, lease_owner=None, lease_expires_us=None, updated_us=now_us,
                             last_error=""))
        append_audit(conn, event, now_us)
        return True
    return op


def peer_receipts_sent(ids: Sequence[int]) -> WriteOp[None]:
    def op(conn: Connection) -> None:
        conn.execute(update(t.peer_receipts).where(t.peer_receipts.c.id.in_(list(ids))).values(sent=1))
    return op


# -- reads -----------------------------------------------------------------------------------------

def pending_peer_receipts(conn: Connection, node: str, limit: int) -> list[PeerReceipt]:
    p = t.peer_receipts
    rows = conn.execute(select(p).where(p.c.node == node, p.c.sent == 0).order_by(p.c.id).limit(limit)).all()
    return [PeerReceipt(r.id, r.node, ReceiptRecord(r.message_id, r.recipient, "acknowledged", r.jws,
                                                    bytes(r.envelope_sha256), r.issued_us, r.issuing_node))
            for r in rows]


def has_due_relay(conn: Connection, route: str, now_us: int) -> bool:
    d = t.deliveries
    row = conn.execute(select(d.c.id).where(
        d.c.route == route, d.c.expires_us > now_us,
        or_(and_(d.c.state == QUEUED, d.c.next_attempt_us <= now_us),
            and_(d.c.state == IN_FLIGHT, d.c.lease_expires_us < now_us))).limit(1)).first()
    return row is not None
