"""What a sender may see of its message: per-recipient state, attempts, errors and receipts."""

from __future__ import annotations

from gateway.api.swg.v1 import exchange_pb2
from gateway.exchange.delivery import receipt_message, ts
from gateway.errors import FieldViolation, InvalidArgument, NotFound
from gateway.node import Node


def status_of(node: Node, caller: str, message_id: str) -> exchange_pb2.GetStatusResponse:
    if not message_id:
        raise InvalidArgument("message_id is required", violations=[FieldViolation("message_id", "required")])
    try:
        st = node.store.status(message_id)
    except NotFound:
        raise NotFound(f"no message {message_id!r} sent by {caller}") from None
    if st.message.sender != caller:
        # Same answer as for an unknown id: the status of others' messages is not even confirmed to exist.
        raise NotFound(f"no message {message_id!r} sent by {caller}")
    m = st.message
    out = exchange_pb2.GetStatusResponse(
        message_id=m.message_id, conversation_id=m.conversation_id, sender=m.sender, document_type=m.document_type,
        created_at=ts(m.created_us), expires_at=ts(m.expires_us), envelope_sha256=m.envelope_sha256)
    for d in st.deliveries:
        rs = out.recipients.add(recipient=d.recipient, state=d.state, attempts=d.attempts, last_error=d.last_error,
                                updated_at=ts(d.updated_us))
        if d.state in (1,) and d.next_attempt_us > d.updated_us:
            rs.next_attempt_at.CopyFrom(ts(d.next_attempt_us))
        rs.receipts.extend(receipt_message(r) for r in st.receipts if r.recipient == d.recipient)
    return out
