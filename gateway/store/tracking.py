"""Item tracking reads: the messages naming given S10 items that one participant sent or received here.

Read-only; built from the plaintext metadata the node keeps anyway (message_items, deliveries, receipts,
kpi_items). What a participant may see is decided here, in the query: a message it neither sent nor is a
recipient of is never read, so nothing about it can reach the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, exists, or_, select

import gateway.store.schema as t


@dataclass(frozen=True)
class TrackedReceipt:
    recipient: str
    kind: str  # "delivered" or "acknowledged"
    issued_us: int


@dataclass(frozen=True)
class TrackedMessage:
    """One message naming an item, as far as the participant it was read for may see it."""

    item_id: str
    message_id: str
    sender: str
    document_type: str
    accepted_us: int
    # All recipients for the participant's own messages; only the participant itself otherwise.
    recipients: tuple[str, ...]
    receipts: tuple[TrackedReceipt, ...]
    # Plaintext facts of the item in this message (kpi_items), when the node recorded them.
    outcome: str = ""
    arrival_us: int | None = None
    departure_us: int | None = None


def item_messages(conn: Connection, participant: str | None, item_ids: Sequence[str]) -> list[TrackedMessage]:
    """Messages naming any of ``item_ids`` that ``participant`` sent or received, in acceptance order; with
    ``participant`` None (the node operator's view) all of them, with all recipients and receipts."""
    if not item_ids:
        return []
    mi, d, r, k = t.message_items, t.deliveries, t.receipts, t.kpi_items
    is_recipient = exists().where(d.c.message_id == mi.c.message_id, d.c.recipient == participant)
    visible = [or_(mi.c.sender == participant, is_recipient)] if participant is not None else []
    rows = conn.execute(
        select(mi.c.item_id, mi.c.message_id, mi.c.sender, mi.c.document_type, mi.c.accepted_us)
        .where(mi.c.item_id.in_(list(item_ids)), *visible)
        .order_by(mi.c.accepted_us, mi.c.message_id)).all()
    if not rows:
        return []
    message_ids = list(dict.fromkeys(row.message_id for row in rows))
    own = {row.message_id for row in rows if participant is None or row.sender == participant}

    recipients: dict[str, list[str]] = {}
    for mid, recipient in conn.execute(select(d.c.message_id, d.c.recipient)
                                       .where(d.c.message_id.in_(message_ids)).order_by(d.c.id)):
        if mid in own or recipient == participant:
            recipients.setdefault(mid, []).append(recipient)

    receipts: dict[str, list[TrackedReceipt]] = {}
    for rec in conn.execute(select(r.c.message_id, r.c.recipient, r.c.kind, r.c.issued_us)
                            .where(r.c.message_id.in_(message_ids)).order_by(r.c.issued_us, r.c.id)):
        if rec.message_id in own or rec.recipient == participant:
            receipts.setdefault(rec.message_id, []).append(TrackedReceipt(rec.recipient, rec.kind, rec.issued_us))

    facts = {(f.message_id, f.item_id): f for f in conn.execute(
        select(k.c.message_id, k.c.item_id, k.c.outcome, k.c.arrival_us, k.c.departure_us)
        .where(k.c.message_id.in_(message_ids), k.c.item_id.in_(list(item_ids))))}

    out = []
    for row in rows:
        fact = facts.get((row.message_id, row.item_id))
        out.append(TrackedMessage(
            row.item_id, row.message_id, row.sender, row.document_type, row.accepted_us,
            tuple(recipients.get(row.message_id, ())), tuple(receipts.get(row.message_id, ())),
            fact.outcome if fact is not None else "",
            fact.arrival_us if fact is not None else None,
            fact.departure_us if fact is not None else None))
    return out
