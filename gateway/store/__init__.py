"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

from gateway.store.repository import (
    Accepted,
    AckOutcome,
    AssistanceCaseRecord,
    Claimed,
    DeliveryRecord,
    MessageRecord,
    MessageStatus,
    NewDelivery,
    NewMessage,
    PeerReceipt,
    ReceiptRecord,
    Store,
)

__all__ = ["Accepted", "AckOutcome", "AssistanceCaseRecord", "PeerReceipt", "Claimed", "DeliveryRecord", "MessageRecord", "MessageStatus", "NewDelivery",
           "NewMessage", "ReceiptRecord", "Store"]
