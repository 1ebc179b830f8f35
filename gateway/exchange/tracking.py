"""What a participant may know about postal items, by S10 id: a timeline per item.

Only messages the caller sent or received on this node are read (``Store.item_messages`` decides that in
its query). An item with none of them is NOT_FOUND with the same words whether the node never heard of it
or only heard of it from others: the answer is no oracle for which items exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters import registry
from adapters.upu import s10
from gateway.errors import FieldViolation, InvalidArgument, NotFound
from gateway.node import Node
from gateway.store import TrackedMessage

MAX_ITEMS = 100

AED_ACCEPTED = "aed_accepted"
CUSTOMS_DECISION = "customs_decision"
REVENUE_NOTICE = "revenue_notice"
ASSISTANCE_REQUEST = "assistance_request"
MESSAGE = "message"
DELIVERED = "delivered"
ACKNOWLEDGED = "acknowledged"
ARRIVED = "arrived"
DEPARTED = "departed"

_KIND_OF_TYPE = {registry.AED: AED_ACCEPTED, registry.INSPECTION: CUSTOMS_DECISION,
                 registry.REVENUE: REVENUE_NOTICE, registry.ASSISTANCE_REQUEST: ASSISTANCE_REQUEST}
_KIND_OF_RECEIPT = {"delivered": DELIVERED, "acknowledged": ACKNOWLEDGED}
# Ties in time: the message before its receipts, a delivered receipt before the acknowledgement.
_ORDER = {k: n for n, k in enumerate((ARRIVED, DEPARTED, AED_ACCEPTED, CUSTOMS_DECISION, REVENUE_NOTICE,
                                      ASSISTANCE_REQUEST, MESSAGE, DELIVERED, ACKNOWLEDGED))}


@dataclass(frozen=True)
class ItemEvent:
    at_us: int
    kind: str
    message_id: str
    document_type: str
    sender: str
    recipients: tuple[str, ...] = ()
    outcome: str = ""
    # Where the event goes in the timeline: its time, except that a receipt (whose signed time is in whole
    # seconds) never goes before the acceptance of its message.
    order_us: int = 0


@dataclass(frozen=True)
class ItemTimeline:
    item_id: str
    events: tuple[ItemEvent, ...]
    # NotFound when the caller may see nothing about the item (then ``events`` is empty).
    error: NotFound | None = None


def check_item_ids(item_ids: Sequence[str]) -> list[str]:
    """The distinct ids in request order; INVALID_ARGUMENT naming ``item_ids[i]`` for each bad one."""
    if not item_ids:
        raise InvalidArgument("item_ids is required", violations=[FieldViolation("item_ids", "at least one S10 id")])
    if len(item_ids) > MAX_ITEMS:
        raise InvalidArgument(
            f"too many item ids: {len(item_ids)}, at most {MAX_ITEMS} per request",
            violations=[FieldViolation("item_ids", f"{len(item_ids)} ids; ask for at most {MAX_ITEMS} per request")])
    violations = []
    for i, item_id in enumerate(item_ids):
        reason = s10.validate(item_id) if item_id else "S10 item identifier is missing"
        if reason:
            violations.append(FieldViolation(f"item_ids[{i}]", f"not a valid S10 item identifier: {reason}"))
    if violations:
        raise InvalidArgument("invalid item ids", violations=violations)
    return list(dict.fromkeys(item_ids))


def _events(m: TrackedMessage) -> list[ItemEvent]:
    kind = _KIND_OF_TYPE.get(m.document_type, MESSAGE)
    out = [ItemEvent(m.accepted_us, kind, m.message_id, m.document_type, m.sender, m.recipients,
                     m.outcome if kind == CUSTOMS_DECISION else "", order_us=m.accepted_us)]
    out += [ItemEvent(r.issued_us, _KIND_OF_RECEIPT.get(r.kind, r.kind), m.message_id, m.document_type, m.sender,
                      (r.recipient,), order_us=max(r.issued_us, m.accepted_us)) for r in m.receipts]
    if m.document_type == registry.AED:
        if m.arrival_us is not None:
            out.append(ItemEvent(m.arrival_us, ARRIVED, m.message_id, m.document_type, m.sender, order_us=m.arrival_us))
        if m.departure_us is not None:
            out.append(ItemEvent(m.departure_us, DEPARTED, m.message_id, m.document_type, m.sender,
                                  order_us=m.departure_us))
    return out


def not_found(item_id: str, caller: str | None) -> NotFound:
    # One wording for an unknown item and for one known only from others' messages.
    if caller is None:
        return NotFound(f"no item {item_id} in messages on this node")
    return NotFound(f"no item {item_id} in messages sent or received by {caller}")


def track(node: Node, caller: str | None, item_ids: Sequence[str]) -> list[ItemTimeline]:
    """The timeline of each requested item that ``caller`` may see, in request order (blocking: reads the store);
    ``caller`` None is the node operator's view (Admin.TrackNodeItems): every message on the node."""
    ids = check_item_ids(item_ids)
    per_item: dict[str, list[ItemEvent]] = {i: [] for i in ids}
    for m in node.store.item_messages(caller, ids):
        per_item[m.item_id] += _events(m)
    out = []
    for item_id, events in per_item.items():
        if not events:
            out.append(ItemTimeline(item_id, (), not_found(item_id, caller)))
            continue
        events.sort(key=lambda e: (e.order_us, _ORDER.get(e.kind, len(_ORDER)), e.message_id, e.recipients))
        out.append(ItemTimeline(item_id, tuple(events)))
    return out
