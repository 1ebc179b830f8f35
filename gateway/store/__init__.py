"""Persistence: the only package that speaks SQL. ``Store`` is the way in."""

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
from gateway.store.retention import ARCHIVED, ArchivableMessage, ArchiveRecord
from gateway.store.states import DeliveryState
from gateway.store.timestamps import StampStatus, StoredStamp, WaitingStamp
from gateway.store.tracking import TrackedMessage, TrackedReceipt

__all__ = ["ARCHIVED", "Accepted", "ArchivableMessage", "ArchiveRecord", "AckOutcome", "AssistanceCaseRecord", "Claimed", "DeliveryFact", "DeliveryRecord",
           "DeliveryState", "KpiFact", "KpiItemRow", "MessageRecord", "MessageStatus", "NewDelivery", "NewMessage",
           "PeerReceipt", "Pending", "ReceiptRecord", "StampStatus", "Store", "StoredStamp", "TrackedMessage",
           "TrackedReceipt", "WaitingStamp"]
