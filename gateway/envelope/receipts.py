"""Receipts: the recipient's signed statement that it received an envelope (docs/evidence.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.swg.v1.envelope_pb2 import Receipt
from gateway.crypto import composite
from gateway.crypto.jws import b64url_decode, hex_digest, sign_jws, strict_json, trusted, verify_signature
from gateway.crypto.keys import ParticipantKeys
from gateway.crypto.trust import Purpose, TrustStore
from gateway.encoding import canonical_json
from gateway.envelope.profiles import CLASSIC, HYBRID_PQ, NO_PQ_KEYS, CryptoPolicy, PqSigningKeys
from gateway.envelope.seal import check_pq_half
from gateway.errors import InvalidArgument, MalformedEnvelope, ReceiptMismatch, SenderMismatch

RECEIPT_TYP = "swg-receipt+jws"
# v1 spelled the digests ("dig", "pq") in base64url; v2, issued now, in lowercase hex as everywhere else.
RECEIPT_VERSION = 2
_RECEIPT_VERSIONS = (1, RECEIPT_VERSION)
_RECEIPT_KEYS = frozenset({"v", "msg", "dig", "rcp", "iat", "node"})
# hybrid-pq receipts also name the recipient's ML-DSA-65 key ("pq") and carry a composite signature.
_RECEIPT_KEYS_PQ = _RECEIPT_KEYS | {"pq"}
_DIGEST_LEN = 32


def _utc(at: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if at is None else at



def _receipt_payload(message_id: str, envelope_sha256: bytes, recipient: str, iat: int, node: str,
                     pq: bytes | None = None) -> bytes:
    body: dict[str, object] = {"v": RECEIPT_VERSION, "msg": message_id, "dig": envelope_sha256.hex(),
                               "rcp": recipient, "iat": iat, "node": node}
    if pq is not None:
        body["pq"] = pq.hex()
    return canonical_json(body)


def issue_receipt(
    *,
    message_id: str,
    envelope_sha256: bytes,
    recipient: ParticipantKeys,
    issuing_node: str,
    at: dt.datetime | None = None,
    profile: str = CLASSIC,
) -> Receipt:
    """Sign, as the recipient, that it received ``envelope_sha256``. Time has whole-second precision.
    ``profile`` hybrid-pq signs with a composite (classic + the recipient's ML-DSA-65 key)."""
    if len(envelope_sha256) != _DIGEST_LEN:
        raise InvalidArgument("envelope_sha256 must be 32 bytes")
    hybrid = profile == HYBRID_PQ
    if hybrid and recipient.pq_signing_key is None:
        raise InvalidArgument(f"{recipient.participant} has no ML-DSA-65 signing key on this node (hybrid-pq)")
    iat = int(_utc(at).timestamp())
    payload = _receipt_payload(message_id, envelope_sha256, recipient.participant, iat, issuing_node,
                               recipient.pq_signing_sha256 if hybrid else None)
    jws = sign_jws(payload, recipient.signing_key, (recipient.signing_cert,), typ=RECEIPT_TYP)
    if hybrid:
        assert recipient.pq_signing_key is not None
        jws = composite.compose(jws, recipient.pq_signing_key)
    return Receipt(
        message_id=message_id, recipient=recipient.participant, envelope_sha256=envelope_sha256,
        received_at=Timestamp(seconds=iat), issuing_node=issuing_node, jws=jws,
    )


def verify_receipt(receipt: Receipt | str, trust: TrustStore, at: dt.datetime | None = None, *,
                   pq_keys: PqSigningKeys = NO_PQ_KEYS, policy: CryptoPolicy | None = None) -> Receipt:
    """Verify a receipt from its JWS alone; return the Receipt its payload states.

    The signer certificate is checked at ``at``, by default at the receipt's own ``iat``, so that a
    receipt stays verifiable after the certificate expires (revocation still counts). Given a Receipt,
    its proto fields must equal the payload. A hybrid-pq receipt (payload "pq") needs its ML-DSA-65 half
    by the key ``pq_keys`` binds to the recipient; ``policy`` refuses a classic receipt once the
    federation's transition window has closed (judged now, not at ``iat``: no downgrade).
    """
    jws = receipt if isinstance(receipt, str) else receipt.jws
    classic_jws, pq_signature = composite.split(jws)
    raw, protected = verify_signature(classic_jws, RECEIPT_TYP)
    body = strict_json(raw, "receipt payload")
    hybrid = isinstance(body, dict) and "pq" in body
    if policy is not None:
        policy.require(HYBRID_PQ if hybrid else CLASSIC, "receipt")
    if (
        not isinstance(body, dict)
        or set(body) != (_RECEIPT_KEYS_PQ if hybrid else _RECEIPT_KEYS)
        or (hybrid and not isinstance(body["pq"], str))
        or type(body["v"]) is not int
        or body["v"] not in _RECEIPT_VERSIONS
        or not all(isinstance(body[k], str) for k in ("msg", "dig", "rcp", "node"))
        or type(body["iat"]) is not int
        or body["iat"] < 0
        or canonical_json(body) != raw
    ):
        raise MalformedEnvelope("receipt payload is not a canonical v1 or v2 receipt")
    digest_of: Callable[[str, str], bytes] = hex_digest if body["v"] == RECEIPT_VERSION else b64url_decode
    digest = digest_of(body["dig"], "receipt dig")
    if len(digest) != _DIGEST_LEN:
        raise MalformedEnvelope("receipt dig must be a SHA-256 digest")
    when = at or dt.datetime.fromtimestamp(body["iat"], dt.timezone.utc)
    signer = trusted(protected, trust, Purpose.SIGNING, when)
    if signer != body["rcp"]:
        raise SenderMismatch(f"receipt for {body['rcp']!r} signed by {signer!r}")
    if hybrid:
        check_pq_half(classic_jws, pq_signature, digest_of(body["pq"], "receipt pq"), signer, pq_keys, "receipt")
    elif pq_signature is not None:
        raise MalformedEnvelope("a classic receipt carries a composite signature")
    stated = Receipt(
        message_id=body["msg"], recipient=body["rcp"], envelope_sha256=digest,
        received_at=Timestamp(seconds=body["iat"]), issuing_node=body["node"], jws=jws,
    )
    if not isinstance(receipt, str) and receipt != stated:
        raise ReceiptMismatch("receipt fields differ from its signed JWS payload")
    return stated
