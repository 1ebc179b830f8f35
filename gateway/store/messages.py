"""Messages: the accept write (message, items, item owners, deliveries, KPI facts, ACCEPTED entry, parts)
and message reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

import gateway.store.audit_log as audit
import gateway.store.schema as t
from gateway.errors import AlreadyExists, FailedPrecondition, FieldViolation, NotFound
from gateway.store.batch import BatchBuffer, append_audit, buffer_of
from gateway.store.engine import WriteOp
from gateway.store.records import (
    Accepted, MessageRecord, MessageStatus, NewMessage, ReceiptRecord, delivery_record, message_record,
    receipt_record,
)
from gateway.store.states import QUEUED

# The document type that declares its items to its recipients, who then belong to its sender there
# (``item_owners``): the AED. The same name as adapters.registry.AED, which the store does not import.
DECLARATION = "swg.aed.v1"
# Item ids per owner query: far below SQLite's bound-parameter limit.
_CHUNK = 500

# The statements of the accept path are built once: building a Core statement per call (values()
# coercion, cache key) cost more CPU than SQLite executing it (see docs/performance.md).
_EXISTING_Q = select(t.messages.c.message_id, t.messages.c.conversation_id, t.messages.c.document_type,
                     t.messages.c.submit_sha256, t.messages.c.accepted_us, t.messages.c.envelope_sha256,
                     t.messages.c.sender).where(t.messages.c.message_id == bindparam("mid"))
_INSERT_MESSAGE = insert(t.messages)
_INSERT_ITEMS = insert(t.message_items)
_INSERT_DELIVERIES = insert(t.deliveries)
_INSERT_KPI = insert(t.kpi_items)
_INSERT_PARTS = insert(t.message_parts)
_io = t.item_owners
_OWNERS_Q = select(_io.c.item_id, _io.c.declared_to, _io.c.sender, _io.c.message_id).where(
    _io.c.item_id.in_(bindparam("items", expanding=True)), _io.c.declared_to.in_(bindparam("to", expanding=True)))
_INSERT_OWNER = insert(_io)
_UPDATE_OWNER = update(_io).where(_io.c.item_id == bindparam("k_item"), _io.c.declared_to == bindparam("k_to")).values(
    message_id=bindparam("k_mid"), updated_us=bindparam("k_at"))


def _with_parts(column: Any, message_id: str) -> Any:
    """``column`` names ``message_id`` or one of its parts."""
    parts = select(t.message_parts.c.part_id).where(t.message_parts.c.message_id == message_id)
    return or_(column == message_id, column.in_(parts.scalar_subquery()))


def _recipients(conn: Connection, message_id: str) -> tuple[str, ...]:
    """The recipients of a message and of its parts, in delivery order."""
    return tuple(conn.execute(select(t.deliveries.c.recipient).where(_with_parts(t.deliveries.c.message_id, message_id))
                              .order_by(t.deliveries.c.id)).scalars().all())


def _known(conn: Connection, msg: NewMessage, existing: Any) -> Accepted:
    """The answer to a message id that is already stored: the first acceptance again, if same content."""
    same = existing.sender == msg.sender and (
        (msg.submit_sha256 is not None and existing.submit_sha256 == msg.submit_sha256)
        or (msg.submit_sha256 is None and bytes(existing.envelope_sha256) == msg.envelope_sha256))
    if not same:
        raise AlreadyExists(f"message_id {msg.message_id!r} is already used for different content")
    return Accepted(existing.message_id, existing.conversation_id, existing.document_type,
                    _recipients(conn, msg.message_id), existing.accepted_us, True, bytes(existing.envelope_sha256))


def _claim_items(conn: Connection, msg: NewMessage, buf: BatchBuffer | None) -> list[audit.AuditEvent]:
    """Record the items an AED declares to its recipients as its sender's, or refuse the AED.

    An item declared to a recipient belongs to the sender that declared it there first: the same sender's
    later AED becomes the item's declaration (audited ``items_updated``); another sender's is refused with
    FAILED_PRECONDITION naming each such item. Runs before anything of the message is written; returns the
    audit events of the updates, to be appended after the ACCEPTED entry.

    In a buffered batch the claims wait for the end of the batch (``_OwnerClaims``): one read for all of
    them instead of one per AED. A claim on another sender's item there makes the Writer rerun the batch
    unbuffered, where this op reads, refuses and names the items itself.
    """
    if msg.document_type != DECLARATION or not msg.item_ids or not msg.deliveries:
        return []
    position: dict[str, int] = {}
    for n, item_id in enumerate(msg.item_ids):
        position.setdefault(item_id, n)
    declared_to = list(dict.fromkeys(d.recipient for d in msg.deliveries))
    if buf is not None:
        buf.deferred("item_owners", _OwnerClaims).claims.append((msg, position, declared_to))
        return []
    owners = _owners(conn, list(position), declared_to)
    new, updates, replaced = _resolve_claim(msg, position, declared_to, owners)
    if new:
        conn.execute(_INSERT_OWNER, list(new.values()))
    if updates:
        conn.execute(_UPDATE_OWNER, updates)
    return _updated_events(msg, replaced)


def _owners(conn: Connection, items: list[str], declared_to: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(item id, declared to) -> (owner, its latest AED) of the stored owners."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for k in range(0, len(items), _CHUNK):
        for found in conn.execute(_OWNERS_Q, {"items": items[k:k + _CHUNK], "to": declared_to}):
            out[(found.item_id, found.declared_to)] = (found.sender, found.message_id)
    return out


def _resolve_claim(msg: NewMessage, position: dict[str, int], declared_to: list[str],
                   owners: dict[tuple[str, str], tuple[str, str]],
                   ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Against ``owners`` (updated in place to this AED): the new owner rows, the updates of the sender's
    own items, and per recipient the items declared again with the AED each replaces; or the refusal."""
    at = msg.accepted_us
    problems: list[FieldViolation] = []
    new: dict[tuple[str, str], dict[str, Any]] = {}
    updates: list[dict[str, Any]] = []
    replaced: dict[str, dict[str, str]] = {}
    for item_id in position:
        for to in declared_to:
            owner = owners.get((item_id, to))
            if owner is None:
                new[(item_id, to)] = {"item_id": item_id, "declared_to": to, "sender": msg.sender,
                                      "message_id": msg.message_id, "declared_us": at, "updated_us": at}
            elif owner[0] != msg.sender:
                problems.append(FieldViolation(f"items[{position[item_id]}].item_id",
                                               f"{item_id} was declared to {to} by another sender"))
            else:
                replaced.setdefault(to, {})[item_id] = owner[1]
                updates.append({"k_item": item_id, "k_to": to, "k_mid": msg.message_id, "k_at": at})
    if problems:
        # The reason names the items itself (no violation list): a peer's refusal carries only the message.
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise FailedPrecondition("; ".join(str(p) for p in problems[:3]) + more)
    for key in (*new, *((u["k_item"], u["k_to"]) for u in updates)):
        owners[key] = (msg.sender, msg.message_id)
    return new, updates, replaced


def _updated_events(msg: NewMessage, replaced: dict[str, dict[str, str]]) -> list[audit.AuditEvent]:
    return [audit.AuditEvent(audit.ITEMS_UPDATED, msg.message_id, actor=msg.sender, subject=to, detail={
                "items": len(items), "item_ids": sorted(items)[:20], "replaces": sorted(set(items.values()))[:20]})
            for to, items in replaced.items()]


class _OwnerClaims:
    """The item claims of a buffered batch's AEDs, settled at its end: one read of the stored owners for
    all of them, the rows of new owners buffered, the sender's own items updated, ``items_updated``
    appended (after the batch's other entries). Another sender's item raises: the batch is rerun op by op."""

    def __init__(self) -> None:
        self.claims: list[tuple[NewMessage, dict[str, int], list[str]]] = []

    def flush(self, conn: Connection, buffer: BatchBuffer) -> None:
        items = list(dict.fromkeys(i for _, position, _ in self.claims for i in position))
        declared_to = list(dict.fromkeys(to for _, _, tos in self.claims for to in tos))
        owners = _owners(conn, items, declared_to)
        new: dict[tuple[str, str], dict[str, Any]] = {}
        updates: dict[tuple[str, str], dict[str, Any]] = {}
        for msg, position, tos in self.claims:  # in batch order: a later AED of the sender wins
            fresh, own, replaced = _resolve_claim(msg, position, tos, owners)
            new.update(fresh)
            for u in own:
                key = (u["k_item"], u["k_to"])
                if key in new:  # claimed earlier in this batch: still a row to insert, now naming this AED
                    new[key]["message_id"], new[key]["updated_us"] = u["k_mid"], u["k_at"]
                else:
                    updates[key] = u
            buffer.append_audit(conn, _updated_events(msg, replaced), msg.accepted_us)
        if new:
            buffer.insert(_INSERT_OWNER, list(new.values()))
        if updates:
            conn.execute(_UPDATE_OWNER, list(updates.values()))


def _write(conn: Connection, buf: BatchBuffer | None, msg: NewMessage) -> None:
    """The rows of one new message (not its parts), in the batch's buffer if there is one."""
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
    if msg.deliveries:
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


def accept(msg: NewMessage, *, buffered: bool = True) -> WriteOp[Accepted]:
    """Store a new message with its deliveries, KPI facts, item owners, ACCEPTED audit entry and parts; a
    known id with the same content (same sender and submit digest, or envelope digest when relayed)
    answers the first acceptance again, other content under a known id is ``AlreadyExists``; an AED
    declaring an item that another sender declared to the same recipient is ``FailedPrecondition``.

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
        updated = _claim_items(conn, msg, buf)
        for part in msg.parts:  # a document split per route: each part declares its items to its recipients
            updated += _claim_items(conn, part, buf)
        _write(conn, buf, msg)
        for ev in updated:
            append_audit(conn, ev, msg.accepted_us)
        for part in msg.parts:
            _write(conn, buf, part)
        if msg.parts:
            (buf.insert if buf is not None else conn.execute)(_INSERT_PARTS, [
                {"message_id": msg.message_id, "part_id": p.message_id, "recipient": d.recipient}
                for p in msg.parts for d in p.deliveries])
        recipients = tuple(d.recipient for m in (msg, *msg.parts) for d in m.deliveries)
        return Accepted(msg.message_id, msg.conversation_id, msg.document_type, recipients, msg.accepted_us,
                        False, msg.envelope_sha256)
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
    if not data:
        # Retention moved it to an archive file (gateway.store.retention): say where, not "empty".
        a, am = t.archives, t.archived_messages
        name = conn.execute(select(a.c.name).join(am, am.c.archive_seq == a.c.seq)
                            .where(am.c.message_id == message_id)).scalar_one_or_none()
        if name is not None:
            raise FailedPrecondition(f"message {message_id!r} was archived to {name}; its envelope, receipts "
                                     "and audit entries are in that file")
    return bytes(data)


def status(conn: Connection, message_id: str) -> MessageStatus:
    row = conn.execute(select(t.messages).where(t.messages.c.message_id == message_id)).first()
    if row is None:
        raise NotFound(f"no message {message_id!r}")
    # A message split per recipient shows the deliveries and receipts of its parts as its own.
    dels = conn.execute(select(t.deliveries).where(_with_parts(t.deliveries.c.message_id, message_id))
                        .order_by(t.deliveries.c.id)).all()
    recs = conn.execute(select(t.receipts).where(_with_parts(t.receipts.c.message_id, message_id))
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


def owners_of_items(conn: Connection, item_ids: Iterable[str], declared_to: str) -> dict[str, tuple[str, str]]:
    """item id -> (owner, the owner's latest AED) of the items declared to ``declared_to``."""
    items = list(dict.fromkeys(item_ids))
    out: dict[str, tuple[str, str]] = {}
    for k in range(0, len(items), _CHUNK):
        for row in conn.execute(_OWNERS_Q, {"items": items[k:k + _CHUNK], "to": [declared_to]}):
            out[row.item_id] = (row.sender, row.message_id)
    return out


def parts_of(conn: Connection, message_id: str) -> dict[str, str]:
    """part id -> recipient of a message split per recipient ({} for any other message)."""
    p = t.message_parts
    rows = conn.execute(select(p.c.part_id, p.c.recipient).where(p.c.message_id == message_id)).all()
    return {r.part_id: r.recipient for r in rows}


def receipts_of(conn: Connection, message_id: str) -> list[ReceiptRecord]:
    r = t.receipts
    rows = conn.execute(select(r).where(r.c.message_id == message_id).order_by(r.c.id)).all()
    return [receipt_record(row) for row in rows]
