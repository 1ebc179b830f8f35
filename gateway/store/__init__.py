"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

from gateway.store.repository import (
    Accepted,
    AckOutcome,
    Claimed,
    DeliveryFact,
    DeliveryRecord,
    KpiFact,
    KpiItemRow,
    MessageRecord,
    MessageStatus,
    NewDelivery,
    NewMessage,
    ReceiptRecord,
    Store,
)

__all__ = ["Accepted", "AckOutcome", "Claimed", "DeliveryFact", "DeliveryRecord", "KpiFact", "KpiItemRow", "MessageRecord", "MessageStatus", "NewDelivery",
           "NewMessage", "ReceiptRecord", "Store"]
