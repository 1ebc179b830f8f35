"""Messages: the accept write (message, items, deliveries, KPI facts, ACCEPTED entry) and message reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

import gateway.store.schema as t
from gateway.errors import AlreadyExists, NotFound
from gateway.store.batch import append_audit, buffer_of
from gateway.store.engine import WriteOp
from gateway.store.records import (
    Accepted, MessageRecord, MessageStatus, NewMessage, ReceiptRecord, delivery_record, message_record,
    receipt_record,
)
from gateway.store.states import QUEUED

# The statements of the accept path are built once: building a Core statement per call (values()
# coercion, cache key) cost more CPU than SQLite executing it (see docs/performance.md).
_EXISTING_Q = select(t.messages.c.message_id, t.messages.c.conversation_id, t.messages.c.document_type,
                     t.messages.c.submit_sha256, t.messages.c.accepted_us, t.messages.c.envelope_sha256,
                     t.messages.c.sender).where(t.messages.c.message_id == bindparam("mid"))
_INSERT_MESSAGE = insert(t.messages)
_INSERT_ITEMS = insert(t.message_items)
_INSERT_DELIVERIES = insert(t.deliveries)
_INSERT_KPI = insert(t.kpi_items)


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


def accept(msg: NewMessage, *, buffered: bool = True) -> WriteOp[Accepted]:
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


# -- reads -----------------------------------------------------------------------------------------

def message_exists(conn: Connection, message_id: str) -> tuple[bytes | None, str] | None:
    row = conn.execute(select(t.messages.c.submit_sha256, t.messages.c.sender)
                       .where(t.messages.c.message_id == message_id)).first()
    return None if row is None else (bytes(row.submit_sha256) if row.submit_sha256 else None, row.sender)


def message(conn: Connection, message_id: str) -> MessageRecord:
    row = conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
    if row is None:
        raise NotFound(f"no message {message_id!r}")
    return message_record(row)


def envelope(conn: Connection, message_id: str) -> bytes:
    data = conn.execute(select(t.messages.c.envelope)
                        .where(t.messages.c.message_id == message_id)).scalar_one_or_none()
    if data is None:
        raise NotFound(f"no message {message_id!r}")
    return bytes(data)


def status(conn: Connection, message_id: str) -> MessageStatus:
    row = conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
    if row is None:
        raise NotFound(f"no message {message_id!r}")
    dels = conn.execute(select(t.deliveries).where(t.deliveries.c.message_id == message_id)
                        .order_by(t.deliveries.c.id)).all()
    recs = conn.execute(select(t.receipts).where(t.receipts.c.message_id == message_id)
                        .order_by(t.receipts.c.id)).all()
    return MessageStatus(message_record(row), tuple(delivery_record(d) for d in dels),
                         tuple(receipt_record(r) for r in recs))


def sender_of(conn: Connection, message_id: str) -> str | None:
    sender: str | None = conn.execute(select(t.messages.c.sender)
                                      .where(t.messages.c.message_id == message_id)).scalar_one_or_none()
    return sender


def parties_of(conn: Connection, message_id: str) -> tuple[str, str, tuple[str, ...]] | None:
    row = conn.execute(select(t.messages.c.sender, t.messages.c.conversation_id)
                       .where(t.messages.c.message_id == message_id)).first()
    if row is None:
        return None
    recipients = conn.execute(select(t.deliveries.c.recipient)
                              .where(t.deliveries.c.message_id == message_id)).scalars().all()
    return row.sender, row.conversation_id, tuple(recipients)


def latest_per_item(conn: Connection, item_ids: Iterable[str], document_type: str, column: str) -> dict[str, str]:
    """item id → ``column`` of its latest ``document_type`` message."""
    mi = t.message_items
    out: dict[str, str] = {}
    rows = conn.execute(select(mi.c.item_id, mi.c[column])
                        .where(mi.c.item_id.in_(list(dict.fromkeys(item_ids))),
                               mi.c.document_type == document_type)
                        .order_by(mi.c.accepted_us)).all()
    for item_id, value in rows:
        out[item_id] = value  # ordered by time: the latest wins
    return out


def receipts_of(conn: Connection, message_id: str) -> list[ReceiptRecord]:
    r = t.receipts
    rows = conn.execute(select(r).where(r.c.message_id == message_id).order_by(r.c.id)).all()
    return [receipt_record(row) for row in rows]
