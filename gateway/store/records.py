"""The typed records the store takes and hands back; none of them carries SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.store.audit_log import AuditEvent


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
    audit_event: AuditEvent
    kpi_facts: tuple[KpiFact, ...] = ()
    # A document split per recipient: the parts, each a message of its own stored with this one (in the
    # same transaction, only if this one is new) and linked to it (``message_parts``).
    parts: tuple[NewMessage, ...] = ()


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


# Rows are SQLAlchemy ``Row`` objects whose columns are typed only at run time.
def message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        message_id=row.message_id, conversation_id=row.conversation_id, in_reply_to=row.in_reply_to,
        sender=row.sender, document_type=row.document_type, envelope_sha256=bytes(row.envelope_sha256),
        created_us=row.created_us, expires_us=row.expires_us, accepted_us=row.accepted_us, origin=row.origin,
        attributes=json.loads(row.attributes or "{}"),
    )


def delivery_record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id, message_id=row.message_id, recipient=row.recipient, route=row.route, state=row.state,
        attempts=row.attempts, last_error=row.last_error, updated_us=row.updated_us,
        next_attempt_us=row.next_attempt_us, sender=row.sender, document_type=row.document_type,
        expires_us=row.expires_us, created_us=row.created_us,
    )


def receipt_record(row: Any) -> ReceiptRecord:
    return ReceiptRecord(message_id=row.message_id, recipient=row.recipient, kind=row.kind, jws=row.jws,
                         envelope_sha256=bytes(row.envelope_sha256), issued_us=row.issued_us,
                         issuing_node=row.issuing_node)
