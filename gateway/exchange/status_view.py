"""What a sender may see of its message: per-recipient state, attempts, errors and receipts."""

from __future__ import annotations

from gateway.errors import FieldViolation, InvalidArgument, NotFound
from gateway.node import Node
from gateway.store import MessageStatus


def status_of(node: Node, caller: str, message_id: str) -> MessageStatus:
    """The stored status of ``caller``'s own message; NOT_FOUND for anyone else's (``gateway.transport``
    turns it into the GetStatus response)."""
    if not message_id:
        raise InvalidArgument("message_id is required", violations=[FieldViolation("message_id", "required")])
    try:
        st = node.store.status(message_id)
    except NotFound:
        raise NotFound(f"no message {message_id!r} sent by {caller}") from None
    if st.message.sender != caller:
        # Same answer as for an unknown id: the status of others' messages is not even confirmed to exist.
        raise NotFound(f"no message {message_id!r} sent by {caller}")
    return st
