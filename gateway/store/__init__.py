"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

from gateway.store.repository import (
    Accepted,
    AckOutcome,
    AssistanceCaseRecord,
    Claimed,
    DeliveryFact,
    DeliveryRecord,
    KpiFact,
    KpiItemRow,
    MessageRecord,
    MessageStatus,
    NewDelivery,
    NewMessage,
    PeerReceipt,
    ReceiptRecord,
    Store,
)

__all__ = ["Accepted", "AckOutcome", "AssistanceCaseRecord", "Claimed", "DeliveryFact", "DeliveryRecord", "KpiFact",
           "KpiItemRow", "MessageRecord", "MessageStatus", "NewDelivery", "PeerReceipt",
           "NewMessage", "ReceiptRecord", "Store"]
