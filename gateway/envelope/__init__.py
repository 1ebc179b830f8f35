"""Seal, verify and open envelopes; issue and verify receipts; sign and verify JWS statements.

The public surface of the envelope, re-exported from small modules so callers keep importing
``gateway.envelope``: encodings (gateway.encoding), JWS and key types (gateway.crypto.jws, .keys), the
KEK ring (kek), seal/verify/open (seal) and receipts (receipts). The wire format and the offline
verification procedure are specified in docs/evidence.md; keep the two in step.
"""

from __future__ import annotations

from gateway.crypto.jws import ALGORITHMS, SigningKey, b64url_decode, sign_jws, verify_jws
from gateway.crypto.keys import ParticipantKeys, RecipientCertificate, Signer
from gateway.encoding import b64url, canonical_json
from gateway.envelope.kek import KEK_MAX_AGE_S, KEK_MAX_MESSAGES, OPENED_KEKS, KekRing, OpenedKeks
from gateway.envelope.profiles import CLASSIC, HYBRID_PQ, NO_PQ_KEYS, CryptoPolicy, Phase, PqSigningKeys, receipt_profile
from gateway.envelope.receipts import RECEIPT_TYP, RECEIPT_VERSION, issue_receipt, verify_receipt
from gateway.envelope.seal import (
    ENVELOPE_TYP,
    MANIFEST_VERSION,
    Opened,
    Sealed,
    Verified,
    manifest,
    open,
    profile_of,
    seal,
    sign_envelope,
    verify,
)

# Internals under the names the tests have always reached them by.
_OPENED_KEKS = OPENED_KEKS
_OpenedKeks = OpenedKeks
_b64url_decode = b64url_decode

__all__ = [
    "ENVELOPE_TYP", "RECEIPT_TYP", "ParticipantKeys", "RecipientCertificate", "Signer", "Sealed", "Verified",
    "Opened", "KekRing", "seal", "sign_envelope", "manifest", "verify", "open", "issue_receipt", "verify_receipt",
    "sign_jws", "verify_jws", "canonical_json", "b64url",
    "CLASSIC", "HYBRID_PQ", "NO_PQ_KEYS", "CryptoPolicy", "Phase", "PqSigningKeys", "profile_of", "receipt_profile",
    "ALGORITHMS", "KEK_MAX_AGE_S", "KEK_MAX_MESSAGES", "MANIFEST_VERSION", "RECEIPT_VERSION", "SigningKey",
]
