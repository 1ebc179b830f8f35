"""What a recipient's format can carry: items per document and encoded sizes, checked at submit and before a send.

A document is accepted only if every recipient can be given it: at most ``[limits] max_items_per_document``
items, and at most ``max_message_bytes`` in each recipient's preferred format (customs' JSON of a batch is
five to seven times its protobuf). A Delivery is never handed to gRPC above its send limit
(``Limits.grpc_message_bytes``): gRPC would end the recipient's stream, and the same delivery would come
first again on the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from google.protobuf.message import Message

from adapters import registry
from adapters.errors import AdapterError
from gateway.config import Limits
from gateway.errors import FieldViolation, InvalidArgument, ResourceExhausted

# No format of ours grows a document by more than this per byte of its protobuf, plus this per item
# (element or key names of fields the protobuf leaves out). Below the bound the encoding is not tried.
MAX_GROWTH_PER_BYTE = 48
MAX_BYTES_PER_ITEM = 256


def items_in(doc: Message) -> int:
    """Entries of the document's top-level lists: the items of a batch."""
    return sum(len(getattr(doc, f.name)) for f in doc.DESCRIPTOR.fields if f.is_repeated)


def check_items(limits: Limits, doc: Message) -> int:
    """The number of items, or InvalidArgument naming ``limits.max_items_per_document``."""
    n = items_in(doc)
    if n > limits.max_items_per_document:
        raise InvalidArgument("too many items in one document", violations=[FieldViolation(
            "content", f"{n} items; this node accepts at most {limits.max_items_per_document} per document "
                       "(limits.max_items_per_document): split the batch")])
    return n


def _largest(formats: Sequence[str], document_type: str, doc: Message) -> tuple[int, str]:
    largest = (0, "")
    for fmt in formats:
        try:
            size = len(registry.encode(fmt, document_type, doc))
        except AdapterError:
            continue  # a format that cannot write this document fails its delivery, whatever the size
        largest = max(largest, (size, fmt))
    return largest


async def check_encoded_size(limits: Limits, document_type: str, doc: Message, payload_bytes: int, items: int,
                             formats: Sequence[str]) -> None:
    """ResourceExhausted naming ``limits.max_message_bytes`` if a recipient's format would exceed it."""
    limit = limits.max_message_bytes
    if payload_bytes * MAX_GROWTH_PER_BYTE + items * MAX_BYTES_PER_ITEM <= limit or not formats:
        return
    size, fmt = await asyncio.to_thread(_largest, sorted(set(formats)), document_type, doc)
    if size > limit:
        raise ResourceExhausted(f"the document is {size} bytes in {fmt}, a recipient's format; this node delivers "
                                f"at most {limit} bytes per message (limits.max_message_bytes): split the batch")


def check_delivery_size(limits: Limits, size: int, fmt: str) -> None:
    limit = limits.grpc_message_bytes
    if size > limit:
        raise ResourceExhausted(f"the delivery is {size} bytes in {fmt}, above the send limit of {limit} bytes "
                                "(limits.max_message_bytes + 256 KiB)")
