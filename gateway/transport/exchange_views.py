"""Exchange responses built from the records the domain returns."""

from __future__ import annotations

from gateway.api.swg.v1 import exchange_pb2
from gateway.exchange.delivery import receipt_message, ts
from gateway.exchange.tracking import ItemTimeline
from gateway.store import MessageStatus
from gateway.transport.status import to_status


def status_response(st: MessageStatus) -> exchange_pb2.GetStatusResponse:
    m = st.message
    out = exchange_pb2.GetStatusResponse(
        message_id=m.message_id, conversation_id=m.conversation_id, sender=m.sender, document_type=m.document_type,
        created_at=ts(m.created_us), expires_at=ts(m.expires_us), envelope_sha256=m.envelope_sha256)
    for d in st.deliveries:
        rs = out.recipients.add(recipient=d.recipient, state=d.state, attempts=d.attempts, last_error=d.last_error,
                                updated_at=ts(d.updated_us))
        # Only a queued delivery waits for a next attempt; the time is shown once a retry has pushed it out.
        if d.state == exchange_pb2.DELIVERY_STATE_QUEUED and d.next_attempt_us > d.updated_us:
            rs.next_attempt_at.CopyFrom(ts(d.next_attempt_us))
        rs.receipts.extend(receipt_message(r) for r in st.receipts if r.recipient == d.recipient)
    return out


_EVENT_KINDS = {name.removeprefix("ITEM_EVENT_KIND_").lower(): number
                for name, number in exchange_pb2.ItemEventKind.items()}


def _event_kind(kind: str) -> int:
    return int(_EVENT_KINDS.get(kind, exchange_pb2.ITEM_EVENT_KIND_UNSPECIFIED))


def track_response(timelines: list[ItemTimeline]) -> exchange_pb2.TrackItemsResponse:
    out = exchange_pb2.TrackItemsResponse()
    for tl in timelines:
        item = out.items.add(item_id=tl.item_id)
        if tl.error is not None:
            item.error.CopyFrom(to_status(tl.error))
        for e in tl.events:
            item.events.add(at=ts(e.at_us), kind=_event_kind(e.kind), message_id=e.message_id,
                            document_type=e.document_type, sender=e.sender, recipients=list(e.recipients),
                            outcome=e.outcome)
    return out
