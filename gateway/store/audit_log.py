"""What the hash-chained audit log holds: events, entries, checkpoints, and the hash of an entry.

Plain values and ``hashlib`` only, so that the store, which appends entries, needs neither the envelope
nor cryptography; gateway.evidence.audit re-exports these and verifies chains and checkpoint signatures.
An entry's hash covers its sequence number, time, event, ids, detail and the previous entry's hash:
editing, deleting, reordering or inserting any row breaks the chain at that row.
"""

from __future__ import annotations

import hashlib
import json
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
# An evidence bundle was exported (Admin.ExportEvidence), with the operator who asked.
EVIDENCE_EXPORTED = "evidence_exported"
ASSISTANCE_REQUEST = "assistance_request"
ASSISTANCE_ANSWER = "assistance_answer"
DIRECTORY_CHANGED = "directory_changed"
DIRECTORY_REFUSED = "directory_refused"
KEY_CHANGED = "key_changed"
# A CRL file the node looked at: now in force (who is revoked changed), or refused (the CRL in force stays).
CRL_CHANGED = "crl_changed"
CRL_REFUSED = "crl_refused"
NODE_STARTED = "node_started"
# A sender declared items again to a participant it had declared them to (its AED replaces the earlier one).
ITEMS_UPDATED = "items_updated"


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


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: bytes
    at_us: int
    node: str
    jws: str
    # The seq of the checkpoint before this one (0 for the first), as signed in a v2 checkpoint; None for a
    # v1 checkpoint or a row read from the database (the signed payload is the authority, not a column).
    prev: int | None = None
    # The C2SP tlog-checkpoint signed note of the Merkle tree of the first ``seq`` entries, signed with the
    # node's log key (gateway.evidence.note); None on a node without one and for checkpoints before it.
    note: str | None = None


def canonical_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_bytes(seq: int, at_us: int, event: str, message_id: str, actor: str, subject: str, detail: str,
                prev_hash: bytes) -> bytes:
    """The bytes an entry stands for: its chain hash is their SHA-256 and its Merkle leaf hashes them too."""
    # A JSON array is unambiguous (no field can bleed into the next) and easy to recompute offline.
    return json.dumps([seq, at_us, event, message_id, actor, subject, detail, prev_hash.hex()],
                      separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(seq: int, at_us: int, event: str, message_id: str, actor: str, subject: str, detail: str,
               prev_hash: bytes) -> bytes:
    return hashlib.sha256(entry_bytes(seq, at_us, event, message_id, actor, subject, detail, prev_hash)).digest()


def leaf_bytes(e: AuditEntry) -> bytes:
    return entry_bytes(e.seq, e.at_us, e.event, e.message_id, e.actor, e.subject, e.detail, e.prev_hash)
