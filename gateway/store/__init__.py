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
from gateway.store.retention import ARCHIVED, ArchivableMessage, ArchiveRecord
from gateway.store.states import DeliveryState
from gateway.store.timestamps import StampStatus, StoredStamp, WaitingStamp
from gateway.store.tracking import TrackedMessage, TrackedReceipt

__all__ = ["ARCHIVED", "Accepted", "AckOutcome", "ArchivableMessage", "ArchiveRecord", "AssistanceCaseRecord",
           "Claimed", "DeliveryFact", "DeliveryRecord", "DeliveryState", "KpiFact", "KpiItemRow", "MessageFilter",
           "MessageRecord", "MessageRow", "MessageStatus", "NewDelivery", "NewMessage", "Overview", "PeerReceipt",
           "Pending", "ReceiptRecord", "StampStatus", "Store", "StoredStamp", "TrackedMessage", "TrackedReceipt",
           "WaitingStamp"]
