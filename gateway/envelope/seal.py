"""Seal, verify and open envelopes.

Seal: AES-256-GCM over salt||payload with the header bytes as associated data, under a fresh content
key per message; the content key is wrapped to each recipient with AES-256-GCM under a key-encryption
key (KEK) that is itself HPKE-sealed to the recipient and reused for a bounded window of messages of
one sender (KekRing); SHA-256(salt||payload) commits the sender to one plaintext (AES-GCM is not
key-committing); a JWS (ES256 or EdDSA, x5c) signs a JSON manifest of digests of every other field.
Envelopes of the older direct form (content key HPKE-sealed per message) still verify and open.
Under the hybrid-pq profile (header.crypto_profile, gateway.envelope.profiles) KEKs are sealed with HPKE
MLKEM768_X25519 and the signature is a composite of the JWS and ML-DSA-65 (gateway.crypto.composite).
The wire format and the offline verification procedure are specified in docs/evidence.md.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError

from gateway.api.swg.v1.envelope_pb2 import Envelope, EnvelopeHeader, KeyWrap
from gateway.crypto import composite
from gateway.crypto.jws import b64url_decode, hex_digest, sign_jws, strict_json, trusted, verify_signature
from gateway.crypto.keys import ParticipantKeys, RecipientCertificate
from gateway.crypto.trust import Purpose, TrustStore
from gateway.encoding import b64url, canonical_json, sha256
from gateway.envelope import kek as kek_mod
from gateway.envelope.kek import KekRing, new_kek
from gateway.envelope.profiles import CLASSIC, HYBRID_PQ, NO_PQ_KEYS, CryptoPolicy, PqSigningKeys
from gateway.errors import (
    BadSignature,
    CommitmentMismatch,
    DecryptionFailed,
    InvalidArgument,
    MalformedEnvelope,
    NotARecipient,
    ProfileRefused,
    SenderMismatch,
)

ENVELOPE_TYP = "swg-envelope+jws"
# v1: direct-form key wraps (HPKE per message); v2: KEK form, each key wrap entry also has "k".
# v3: hybrid-pq; each key wrap entry also has "q" (the ML-KEM key), the manifest "pq" (the ML-DSA key).
# v1-v3 spell digests in base64url. v4 (everything sealed now, either profile) is v2/v3 with every
# digest in lowercase hex, the one spelling of a digest everywhere else in the gateway (directory pins,
# audit entries, bundles, archives, CLI); the nonce is not a digest and stays base64url.
_MANIFEST_VERSION_DIRECT = 1
_MANIFEST_VERSION_KEK_B64 = 2
_MANIFEST_VERSION_PQ_B64 = 3
MANIFEST_VERSION = 4
# The versions a verifier accepts for each key wrap form: envelopes stored before v4 must still verify.
_MANIFEST_VERSIONS = {"direct": (_MANIFEST_VERSION_DIRECT,), "kek": (_MANIFEST_VERSION_KEK_B64, MANIFEST_VERSION),
                      "pq": (_MANIFEST_VERSION_PQ_B64, MANIFEST_VERSION)}

_KEY_LEN = 32
_SALT_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_HPKE_SEALED_LEN = 32 + _KEY_LEN + _TAG_LEN  # X25519 enc || AES-256-GCM(32-byte key) with tag
_HPKE_PQ_SEALED_LEN = 1120 + _KEY_LEN + _TAG_LEN  # MLKEM768_X25519 enc || AES-256-GCM(KEK) with tag
_KEK_WRAPPED_LEN = _NONCE_LEN + _KEY_LEN + _TAG_LEN
_DIGEST_LEN = 32
# Domain separation: a content key wrap can never be taken for anything else.
_CEK_AAD = b"swg-cek-v1:"


def _cek_aad(header_sha256: bytes, certificate_sha256: bytes, recipient: str) -> bytes:
    # Binds a content key wrap to this envelope's header and this recipient: a wrap under a shared KEK
    # copied into another envelope of the same window does not decrypt there.
    return _CEK_AAD + header_sha256 + certificate_sha256 + recipient.encode("utf-8")



@dataclass(frozen=True)
class Sealed:
    envelope: Envelope
    data: bytes
    sha256: bytes
    header: EnvelopeHeader


@dataclass(frozen=True)
class Verified:
    header: EnvelopeHeader
    envelope: Envelope
    data: bytes
    sha256: bytes
    signer: str


@dataclass(frozen=True)
class Opened:
    header: EnvelopeHeader
    payload: bytes
    sha256: bytes
    signer: str
    # Revealing salt || payload lets a third party check content_commitment (docs/evidence.md).
    salt: bytes


def _kek_form(envelope: Envelope) -> bool:
    return any(kw.sealed_kek for kw in envelope.key_wraps)


def _hybrid(envelope: Envelope) -> bool:
    return any(kw.pq_key_sha256 for kw in envelope.key_wraps)


def _form(envelope: Envelope) -> str:
    return "pq" if _hybrid(envelope) else "kek" if _kek_form(envelope) else "direct"


def manifest(envelope: Envelope, pq_signer_sha256: bytes | None = None, version: int | None = None) -> bytes:
    """The JWS payload of an envelope signature (docs/evidence.md, "Manifest").

    ``version`` None is what a seal writes now: v4 (hex digests), or v1 for the legacy direct form. A
    verifier passes the version the signed payload states, one of those its form allows. Key wrap
    entries get "k" in the KEK form and "q" in hybrid-pq, whose manifest also names the signer's
    ML-DSA-65 key ("pq", ``pq_signer_sha256``).
    """
    form = _form(envelope)
    allowed = _MANIFEST_VERSIONS[form]
    v = allowed[-1] if version is None else version
    if v not in allowed:
        raise MalformedEnvelope(f"manifest version {v} is not one for a {form}-form envelope")
    digest: Callable[[bytes], str] = bytes.hex if v == MANIFEST_VERSION else b64url
    wraps: list[dict[str, str]] = []
    for kw in envelope.key_wraps:
        entry = {"r": kw.recipient, "c": digest(kw.certificate_sha256), "w": digest(sha256(kw.wrapped_key))}
        if form != "direct":
            entry["k"] = digest(sha256(kw.sealed_kek))
        if form == "pq":
            entry["q"] = digest(kw.pq_key_sha256)
        wraps.append(entry)
    body: dict[str, object] = {
        "v": v,
        "hdr": digest(sha256(envelope.header)),
        "nonce": b64url(envelope.nonce),
        "ct": digest(sha256(envelope.ciphertext)),
        "kw": wraps,
        "cc": digest(envelope.content_commitment),
    }
    if form == "pq":
        body["pq"] = digest(pq_signer_sha256 or b"")
    return canonical_json(body)


def seal(
    header: EnvelopeHeader,
    payload: bytes,
    sender: ParticipantKeys,
    recipients: Sequence[RecipientCertificate],
    keks: KekRing | None = None,
    *,
    profile: str = CLASSIC,
) -> Sealed:
    """Encrypt ``payload`` to every recipient and sign the result as ``sender``, under ``profile``.

    ``keks`` (the node's KekRing) lets consecutive messages to one recipient share a sealed KEK;
    without it every call seals a fresh KEK per recipient. ``profile`` hybrid-pq needs the sender's
    ML-DSA-65 key and every recipient's ML-KEM-768 key; the header states the profile.
    """
    if header.sender != sender.participant:
        raise SenderMismatch(f"header sender {header.sender!r} is not {sender.participant!r}")
    names = [r.participant for r in recipients]
    if not names or list(header.recipients) != names or len(set(names)) != len(names):
        raise InvalidArgument("header.recipients must list the given recipients, in order, once each")
    if profile not in (CLASSIC, HYBRID_PQ):
        raise InvalidArgument(f"unknown crypto profile {profile!r}")
    hybrid = profile == HYBRID_PQ
    if hybrid:
        if sender.pq_signing_key is None:
            raise InvalidArgument(f"{sender.participant} has no ML-DSA-65 signing key on this node (hybrid-pq)")
        missing = [r.participant for r in recipients if r.pq_key is None]
        if missing:
            raise InvalidArgument(f"no ML-KEM-768 key in the directory for {', '.join(missing)} (hybrid-pq)")
    header = EnvelopeHeader.FromString(header.SerializeToString(deterministic=True))
    header.crypto_profile = HYBRID_PQ if hybrid else ""
    header_bytes = header.SerializeToString(deterministic=True)
    content_key, salt, nonce = os.urandom(_KEY_LEN), os.urandom(_SALT_LEN), os.urandom(_NONCE_LEN)
    salted = salt + payload
    header_sha256 = sha256(header_bytes)
    wraps = []
    for r in recipients:
        kek = (keks.take(sender.participant, r, hybrid) if keks is not None
               else new_kek(sender.participant, r, 0.0, hybrid))
        wrap_nonce = os.urandom(_NONCE_LEN)
        wrapped = kek.aead.encrypt(wrap_nonce, content_key, _cek_aad(header_sha256, r.sha256, r.participant))
        wraps.append(KeyWrap(recipient=r.participant, certificate_sha256=r.sha256,
                             wrapped_key=wrap_nonce + wrapped, sealed_kek=kek.sealed,
                             pq_key_sha256=r.pq_sha256 if hybrid else b""))
    envelope = Envelope(
        header=header_bytes,
        nonce=nonce,
        ciphertext=AESGCM(content_key).encrypt(nonce, salted, header_bytes),
        key_wraps=wraps,
        content_commitment=sha256(salted),
    )
    return sign_envelope(envelope, sender)


def sign_envelope(envelope: Envelope, sender: ParticipantKeys) -> Sealed:
    """Sign an assembled envelope (its ``signature`` is replaced): a composite signature when its key
    wraps are hybrid-pq. seal() uses it; tests use it to build envelopes that are well signed but wrong inside."""
    if _hybrid(envelope):
        if sender.pq_signing_key is None:
            raise InvalidArgument(f"{sender.participant} has no ML-DSA-65 signing key on this node (hybrid-pq)")
        classic = sign_jws(manifest(envelope, sender.pq_signing_sha256), sender.signing_key,
                           (sender.signing_cert,), typ=ENVELOPE_TYP)
        envelope.signature = composite.compose(classic, sender.pq_signing_key)
    else:
        envelope.signature = sign_jws(manifest(envelope), sender.signing_key, (sender.signing_cert,),
                                      typ=ENVELOPE_TYP)
    data = envelope.SerializeToString(deterministic=True)
    return Sealed(envelope, data, sha256(data), EnvelopeHeader.FromString(envelope.header))


def _parse(data: bytes) -> tuple[Envelope, EnvelopeHeader]:
    try:
        envelope = Envelope.FromString(data)
        header = EnvelopeHeader.FromString(envelope.header)
    except (DecodeError, ValueError) as exc:
        raise MalformedEnvelope(f"not an Envelope: {exc}") from exc
    # One message, one encoding: unknown fields or non-canonical bytes could carry unsigned data.
    # Re-serialising keeps unknown fields, so drop them first to make them show up as a difference.
    envelope.DiscardUnknownFields()
    header.DiscardUnknownFields()
    if envelope.SerializeToString(deterministic=True) != data:
        raise MalformedEnvelope("envelope is not canonically encoded (or has unknown fields)")
    if header.SerializeToString(deterministic=True) != envelope.header:
        raise MalformedEnvelope("envelope header is not canonically encoded (or has unknown fields)")
    if len(envelope.nonce) != _NONCE_LEN or len(envelope.content_commitment) != _DIGEST_LEN:
        raise MalformedEnvelope("nonce or content commitment has the wrong length")
    if len(envelope.ciphertext) < _SALT_LEN + 16:
        raise MalformedEnvelope("ciphertext too short")
    if [kw.recipient for kw in envelope.key_wraps] != list(header.recipients) or not header.recipients:
        raise MalformedEnvelope("key wraps do not match header.recipients")
    if len(set(header.recipients)) != len(header.recipients):
        raise MalformedEnvelope("header.recipients lists a participant twice")
    if header.crypto_profile not in ("", HYBRID_PQ):
        raise MalformedEnvelope(f"unknown crypto profile {header.crypto_profile!r}")
    hybrid = header.crypto_profile == HYBRID_PQ
    kek_form = _kek_form(envelope)
    if hybrid and not kek_form:
        raise MalformedEnvelope("a hybrid-pq envelope must have KEK-form key wraps")
    for kw in envelope.key_wraps:
        if hybrid:
            wrong = (len(kw.sealed_kek) != _HPKE_PQ_SEALED_LEN or len(kw.wrapped_key) != _KEK_WRAPPED_LEN
                     or len(kw.pq_key_sha256) != _DIGEST_LEN)
        elif kek_form:
            wrong = (len(kw.sealed_kek) != _HPKE_SEALED_LEN or len(kw.wrapped_key) != _KEK_WRAPPED_LEN
                     or bool(kw.pq_key_sha256))
        else:
            wrong = len(kw.wrapped_key) != _HPKE_SEALED_LEN or bool(kw.pq_key_sha256)
        if len(kw.certificate_sha256) != _DIGEST_LEN or wrong:
            raise MalformedEnvelope(f"key wrap for {kw.recipient} has the wrong length (or mixes key wrap forms "
                                    "or crypto profiles)")
    return envelope, header


def profile_of(header: EnvelopeHeader) -> str:
    return header.crypto_profile or CLASSIC


def _signed_manifest(signed: bytes, hybrid: bool) -> tuple[int, bytes | None]:
    """The version a signed manifest states and, for hybrid-pq, the ML-DSA-65 key it names."""
    body = strict_json(signed, "envelope manifest")
    version = body.get("v") if isinstance(body, dict) else None
    if type(version) is not int:
        raise MalformedEnvelope("the envelope manifest states no version")
    if not hybrid:
        return version, None
    kid = body.get("pq")
    if not isinstance(kid, str):
        raise BadSignature("a hybrid-pq envelope's signature must name the signer's ML-DSA-65 key (pq)")
    return version, (hex_digest(kid, "manifest pq") if version == MANIFEST_VERSION
                     else b64url_decode(kid, "manifest pq"))


def check_pq_half(classic_jws: str, pq_signature: bytes | None, kid: bytes, signer: str,
                  pq_keys: PqSigningKeys, what: str) -> None:
    """The ML-DSA-65 half of a composite: present, by the key the directory binds to ``signer``, valid."""
    if pq_signature is None:
        raise BadSignature(f"{what} is hybrid-pq but its signature has no ML-DSA-65 half")
    key = pq_keys.pq_signing_key(signer)
    if key is None:
        raise BadSignature(f"no ML-DSA-65 key of {signer} is known (the directory binds none)")
    if not hmac.compare_digest(composite.public_key_sha256(key), kid):
        raise BadSignature(f"{what} names an ML-DSA-65 key that is not {signer}'s in the directory")
    composite.verify_pq_half(classic_jws, pq_signature, key)


def verify(data: bytes, trust: TrustStore, at: dt.datetime | None = None, *,
           pq_keys: PqSigningKeys = NO_PQ_KEYS, policy: CryptoPolicy | None = None) -> Verified:
    """Check encoding, signature, signer certificate (Purpose.SIGNING at ``at``) and sender.

    A hybrid-pq envelope also needs the ML-DSA-65 half, by the key ``pq_keys`` (the directory) binds to the
    sender. ``policy`` (the directory's) refuses a classic envelope once the transition window has closed,
    judged at ``at`` (now by default). Does not decrypt and does not look at header.expires_at: relaying
    nodes call this.
    """
    envelope, header = _parse(data)
    profile = profile_of(header)
    if policy is not None:
        policy.require(profile, "envelope", at)
    classic_jws, pq_signature = composite.split(envelope.signature)
    signed, protected = verify_signature(classic_jws, ENVELOPE_TYP)
    version, kid = _signed_manifest(signed, profile == HYBRID_PQ)
    if profile != HYBRID_PQ and pq_signature is not None:
        raise MalformedEnvelope("a classic envelope carries a composite signature")
    if not hmac.compare_digest(signed, manifest(envelope, kid, version)):
        raise BadSignature("signature does not cover this envelope (manifest differs)")
    signer = trusted(protected, trust, Purpose.SIGNING, at)
    if signer != header.sender:
        raise SenderMismatch(f"signed by {signer!r} but header sender is {header.sender!r}")
    if kid is not None:
        check_pq_half(classic_jws, pq_signature, kid, signer, pq_keys, "envelope")
    return Verified(header, envelope, data, sha256(data), signer)


def open(data: bytes, recipient: ParticipantKeys, trust: TrustStore, at: dt.datetime | None = None, *,
         pq_keys: PqSigningKeys = NO_PQ_KEYS, policy: CryptoPolicy | None = None) -> Opened:
    """verify(), then decrypt for ``recipient`` and check the content commitment."""
    verified = verify(data, trust, at, pq_keys=pq_keys, policy=policy)
    envelope = verified.envelope
    hybrid = profile_of(verified.header) == HYBRID_PQ
    if hybrid and recipient.pq_encryption_key is None:
        raise ProfileRefused(f"the envelope is hybrid-pq but {recipient.participant} holds no ML-KEM-768 key here")
    wrap = next(
        (kw for kw in envelope.key_wraps
         if kw.recipient == recipient.participant and kw.certificate_sha256 == recipient.encryption_cert_sha256
         and (not hybrid or kw.pq_key_sha256 == recipient.pq_encryption_sha256)),
        None,
    )
    if wrap is None:
        raise NotARecipient(f"{recipient.participant} (with this encryption certificate) is not a recipient")
    try:
        if wrap.sealed_kek:
            kek = kek_mod.OPENED_KEKS.open(recipient, verified.header.sender, wrap.sealed_kek, hybrid)
            aad = _cek_aad(sha256(envelope.header), wrap.certificate_sha256, wrap.recipient)
            content_key = kek.decrypt(wrap.wrapped_key[:_NONCE_LEN], wrap.wrapped_key[_NONCE_LEN:], aad)
        else:
            content_key = kek_mod.SUITE.decrypt(wrap.wrapped_key, recipient.encryption_key, info=sha256(envelope.header))
        salted = AESGCM(content_key).decrypt(envelope.nonce, envelope.ciphertext, envelope.header)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(f"cannot decrypt for {recipient.participant}") from exc
    if not hmac.compare_digest(sha256(salted), envelope.content_commitment):
        raise CommitmentMismatch("decrypted content is not what the sender committed to")
    return Opened(verified.header, salted[_SALT_LEN:], verified.sha256, verified.signer, salted[:_SALT_LEN])

