"""Receipts as the relay carries them (proto) and as the store keeps them (records), and the TLS pin of a
peer node; shared by both directions of the relay."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.swg.v1 import envelope_pb2
from gateway.clock import timestamp_us
from gateway.crypto.certificates import pem_file_fingerprint
from gateway.federation import DirectoryNode
from gateway.store import ReceiptRecord


def pinned(entry: DirectoryNode) -> bytes:
    # The pin taken when the (signed) directory was loaded, so a certificate file swapped later is refused.
    if entry.tls_certificate_sha256:
        return bytes.fromhex(entry.tls_certificate_sha256)
    return pem_file_fingerprint(entry.tls_certificate)


def ts_us(ts: Timestamp) -> int:
    return timestamp_us(ts)


def record(r: envelope_pb2.Receipt, kind: str) -> ReceiptRecord:
    return ReceiptRecord(r.message_id, r.recipient, kind, r.jws, r.envelope_sha256, ts_us(r.received_at),
                         r.issuing_node)


def receipt(rec: ReceiptRecord) -> envelope_pb2.Receipt:
    return envelope_pb2.Receipt(message_id=rec.message_id, recipient=rec.recipient,
                                envelope_sha256=rec.envelope_sha256,
                                received_at={"seconds": rec.issued_us // 1_000_000}, issuing_node=rec.issuing_node,
                                jws=rec.jws)
