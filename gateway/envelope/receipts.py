"""Receipts: the recipient's signed statement that it received an envelope (docs/evidence.md)."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.swg.v1.envelope_pb2 import Receipt
from gateway.crypto.jws import b64url_decode, sign_jws, strict_json, trusted, verify_signature
from gateway.crypto.keys import ParticipantKeys
from gateway.crypto.trust import Purpose, TrustStore
from gateway.encoding import b64url, canonical_json
from gateway.errors import InvalidArgument, MalformedEnvelope, ReceiptMismatch, SenderMismatch

RECEIPT_TYP = "swg-receipt+jws"
RECEIPT_VERSION = 1
_RECEIPT_KEYS = frozenset({"v", "msg", "dig", "rcp", "iat", "node"})
_DIGEST_LEN = 32


def _utc(at: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if at is None else at



def _receipt_payload(message_id: str, envelope_sha256: bytes, recipient: str, iat: int, node: str) -> bytes:
    return canonical_json(
        {"v": RECEIPT_VERSION, "msg": message_id, "dig": b64url(envelope_sha256), "rcp": recipient,
         "iat": iat, "node": node}
    )


def issue_receipt(
    *,
    message_id: str,
    envelope_sha256: bytes,
    recipient: ParticipantKeys,
    issuing_node: str,
    at: dt.datetime | None = None,
) -> Receipt:
    """Sign, as the recipient, that it received ``envelope_sha256``. Time has whole-second precision."""
    if len(envelope_sha256) != _DIGEST_LEN:
        raise InvalidArgument("envelope_sha256 must be 32 bytes")
    iat = int(_utc(at).timestamp())
    payload = _receipt_payload(message_id, envelope_sha256, recipient.participant, iat, issuing_node)
    jws = sign_jws(payload, recipient.signing_key, (recipient.signing_cert,), typ=RECEIPT_TYP)
    return Receipt(
        message_id=message_id, recipient=recipient.participant, envelope_sha256=envelope_sha256,
        received_at=Timestamp(seconds=iat), issuing_node=issuing_node, jws=jws,
    )


def verify_receipt(receipt: Receipt | str, trust: TrustStore, at: dt.datetime | None = None) -> Receipt:
    """Verify a receipt from its JWS alone; return the Receipt its payload states.

    The signer certificate is checked at ``at``, by default at the receipt's own ``iat``, so that a
    receipt stays verifiable after the certificate expires (revocation still counts). Given a Receipt,
    its proto fields must equal the payload.
    """
    jws = receipt if isinstance(receipt, str) else receipt.jws
    raw, protected = verify_signature(jws, RECEIPT_TYP)
    body = strict_json(raw, "receipt payload")
    if (
        not isinstance(body, dict)
        or set(body) != _RECEIPT_KEYS
        or body["v"] != RECEIPT_VERSION
        or not all(isinstance(body[k], str) for k in ("msg", "dig", "rcp", "node"))
        or type(body["iat"]) is not int
        or body["iat"] < 0
        or canonical_json(body) != raw
    ):
        raise MalformedEnvelope("receipt payload is not a canonical v1 receipt")
    digest = b64url_decode(body["dig"], "receipt dig")
    if len(digest) != _DIGEST_LEN:
        raise MalformedEnvelope("receipt dig must be a SHA-256 digest")
    when = at or dt.datetime.fromtimestamp(body["iat"], dt.timezone.utc)
    signer = trusted(protected, trust, Purpose.SIGNING, when)
    if signer != body["rcp"]:
        raise SenderMismatch(f"receipt for {body['rcp']!r} signed by {signer!r}")
    stated = Receipt(
        message_id=body["msg"], recipient=body["rcp"], envelope_sha256=digest,
        received_at=Timestamp(seconds=body["iat"]), issuing_node=body["node"], jws=jws,
    )
    if not isinstance(receipt, str) and receipt != stated:
        raise ReceiptMismatch("receipt fields differ from its signed JWS payload")
    return stated
