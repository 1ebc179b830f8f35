"""The hash-chained audit log: how an entry is encoded and hashed, and how a chain is verified.

Pure functions over plain values; ``gateway.store`` persists entries and calls ``entry_hash`` while
appending, so that the chain rule lives in one place. An entry's hash covers its sequence number,
time, event, ids, detail and the previous entry's hash: editing, deleting, reordering or inserting any
row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

GENESIS = bytes(32)

# Events the node records. Entries hold metadata and digests only, never payloads.
ACCEPTED = "accepted"
REFUSED = "refused"
RELAYED = "relayed"
RELAY_RECEIVED = "relay_received"
DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
RECEIPT_ISSUED = "receipt_issued"
EXPIRED = "expired"
FAILED = "failed"
RETRIED = "retried"
ASSISTANCE_REQUEST = "assistance_request"
ASSISTANCE_ANSWER = "assistance_answer"
DIRECTORY_CHANGED = "directory_changed"
KEY_CHANGED = "key_changed"
NODE_STARTED = "node_started"


@dataclass(frozen=True)
class AuditEvent:
    """What a caller asks to record; the store adds seq, time and the chain hashes."""

    event: str
    message_id: str = ""
    actor: str = ""
    subject: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_us: int
    event: str
    message_id: str
    actor: str
    subject: str
    detail: str
    prev_hash: bytes
    entry_hash: bytes


def canonical_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(seq: int, at_us: int, event: str, message_id: str, actor: str, subject: str, detail: str,
               prev_hash: bytes) -> bytes:
    # A JSON array is unambiguous (no field can bleed into the next) and easy to recompute offline.
    encoded = json.dumps([seq, at_us, event, message_id, actor, subject, detail, prev_hash.hex()],
                         separators=(",", ":"), ensure_ascii=True).encode()
    return hashlib.sha256(encoded).digest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries_checked: int
    first_bad_seq: int
    reason: str
    head_hash: bytes


def verify_chain(entries: Iterable[AuditEntry], expected_head: tuple[int, bytes] | None = None) -> ChainReport:
    """Walk entries in storage order; report the first entry that breaks the chain.

    ``expected_head`` (seq, hash) is the recorded chain head: it catches a deleted tail, which the
    walk alone cannot see.
    """
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            what = "missing or deleted entry before it" if e.seq > expected_seq else "out of order or inserted"
            return ChainReport(False, count, e.seq, f"sequence {e.seq} where {expected_seq} was expected ({what})", prev)
        if e.prev_hash != prev:
            return ChainReport(False, count, e.seq, "prev_hash does not match the previous entry", prev)
        recomputed = entry_hash(e.seq, e.at_us, e.event, e.message_id, e.actor, e.subject, e.detail, e.prev_hash)
        if recomputed != e.entry_hash:
            return ChainReport(False, count, e.seq, "entry content does not match its hash (edited)", prev)
        prev = e.entry_hash
        expected_seq += 1
    if expected_head is not None:
        head_seq, head_hash = expected_head
        if head_seq != expected_seq - 1 or head_hash != prev:
            return ChainReport(False, count, expected_seq, f"chain ends at {expected_seq - 1} but the recorded head is "
                               f"entry {head_seq} (entries deleted from the end or head altered)", prev)
    return ChainReport(True, count, 0, "", prev)
