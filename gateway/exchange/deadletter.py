"""The dead-letter view for operators: deliveries by state (FAILED, EXPIRED, ...) and putting them back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.api.swg.v1 import admin_pb2
from gateway.exchange.delivery import ts
from gateway.errors import FieldViolation, InvalidArgument
from gateway.clock import now_us
from gateway.node import Node
from gateway.store.states import EXPIRED, FAILED

DEFAULT_LIMIT = 1000


def list_deliveries(node: Node, states: Sequence[int], recipient: str, limit: int) -> admin_pb2.ListDeliveriesResponse:
    rows = node.store.list_deliveries(list(states) or [FAILED, EXPIRED], recipient or None,
                                      min(limit or DEFAULT_LIMIT, 10_000))
    out = admin_pb2.ListDeliveriesResponse()
    for d in rows:
        out.deliveries.add(message_id=d.message_id, recipient=d.recipient, sender=d.sender,
                           document_type=d.document_type, state=d.state, attempts=d.attempts,
                           last_error=d.last_error, updated_at=ts(d.updated_us), route=d.route)
    return out


async def retry(node: Node, message_ids: Sequence[str], recipient: str, actor: str,
                wake: Callable[[], None] | None = None) -> int:
    if not message_ids:
        raise InvalidArgument("nothing to retry", violations=[FieldViolation("message_ids", "empty")])
    store = node.store
    n = await store.retry(list(message_ids), recipient or None, now_us(), actor)
    if n and wake is not None:
        wake()
    return int(n)
