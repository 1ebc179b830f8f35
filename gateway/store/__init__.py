"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

from gateway.store.repository import (
    Accepted,
    AckOutcome,
    Claimed,
    DeliveryRecord,
    MessageRecord,
    MessageStatus,
    NewDelivery,
    NewMessage,
    ReceiptRecord,
    Store,
)

__all__ = ["Accepted", "AckOutcome", "Claimed", "DeliveryRecord", "MessageRecord", "MessageStatus", "NewDelivery",
           "NewMessage", "ReceiptRecord", "Store"]
