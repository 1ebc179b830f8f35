"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

from gateway.store.browse import MessageFilter, MessageRow, Overview
from gateway.store.engine import Pending
from gateway.store.facade import Store
from gateway.store.records import (
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
)
from gateway.store.states import DeliveryState
from gateway.store.tracking import TrackedMessage, TrackedReceipt

__all__ = ["Accepted", "AckOutcome", "AssistanceCaseRecord", "Claimed", "DeliveryFact", "DeliveryRecord",
           "DeliveryState", "KpiFact", "MessageFilter", "MessageRow", "Overview", "KpiItemRow", "MessageRecord", "MessageStatus", "NewDelivery", "NewMessage",
           "PeerReceipt", "Pending", "ReceiptRecord", "Store", "TrackedMessage",
           "TrackedReceipt"]
