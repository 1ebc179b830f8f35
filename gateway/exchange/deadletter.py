"""The dead-letter view for operators: deliveries by state (FAILED, EXPIRED, ...) and putting them back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.errors import FieldViolation, InvalidArgument
from gateway.clock import now_us
from gateway.node import Node
from gateway.store import DeliveryRecord
from gateway.store.states import EXPIRED, FAILED

DEFAULT_LIMIT = 1000


def list_deliveries(node: Node, states: Sequence[int], recipient: str, limit: int) -> list[DeliveryRecord]:
    """FAILED and EXPIRED deliveries unless ``states`` names others; all recipients unless one is named."""
    return node.store.list_deliveries(list(states) or [FAILED, EXPIRED], recipient or None,
                                      min(limit or DEFAULT_LIMIT, 10_000))


async def retry(node: Node, message_ids: Sequence[str], recipient: str, actor: str,
                wake: Callable[[], None] | None = None, operator: str = "") -> int:
    """Put FAILED/EXPIRED deliveries back in the queue; each is audited with ``actor`` (the caller's
    principal) and, when given, the ``operator`` (a person, e.g. signed in to the console) who asked."""
    if not message_ids:
        raise InvalidArgument("nothing to retry", violations=[FieldViolation("message_ids", "empty")])
    store = node.store
    n = await store.retry(list(message_ids), recipient or None, now_us(), actor,
                          {"operator": operator} if operator else None)
    if n and wake is not None:
        wake()
    return int(n)
