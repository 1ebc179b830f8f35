"""Seal, verify and open envelopes; issue and verify receipts; sign and verify JWS statements.

This is the only module that uses signing and encryption keys. The wire format and the offline
verification procedure are specified in docs/evidence.md; keep the two in step.

Seal: AES-256-GCM over salt||payload with the header bytes as associated data, under a fresh content
key per message; the content key is wrapped to each recipient with AES-256-GCM under a key-encryption
key (KEK) that is itself HPKE-sealed to the recipient and reused for a bounded window of messages of
one sender (KekRing); SHA-256(salt||payload) commits the sender to one plaintext (AES-GCM is not
key-committing); a JWS (ES256 or EdDSA, x5c) signs a JSON manifest of digests of every other field.
Envelopes of the older direct form (content key HPKE-sealed per message) still verify and open.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.crypto import trust as trust_mod
from gateway.api.swg.v1.envelope_pb2 import Envelope, EnvelopeHeader, KeyWrap, Receipt
from gateway.errors import (
    BadSignature,
    CommitmentMismatch,
    DecryptionFailed,
    InvalidArgument,
    MalformedEnvelope,
    NotARecipient,
    ReceiptMismatch,
    SenderMismatch,
    SignerNotTrusted,
    TrustError,
)
from gateway.crypto.trust import Purpose, TrustStore

__all__ = [
    "ENVELOPE_TYP", "RECEIPT_TYP", "ParticipantKeys", "RecipientCertificate", "Signer", "Sealed", "Verified",
    "Opened", "KekRing", "seal", "sign_envelope", "manifest", "verify", "open", "issue_receipt", "verify_receipt",
    "sign_jws", "verify_jws", "canonical_json", "b64url",
]

ENVELOPE_TYP = "swg-envelope+jws"
RECEIPT_TYP = "swg-receipt+jws"
ALGORITHMS = frozenset({"ES256", "EdDSA"})
# v1: direct-form key wraps (HPKE per message); v2: KEK form, each key wrap entry also has "k".
MANIFEST_VERSION = 2
_MANIFEST_VERSION_DIRECT = 1
RECEIPT_VERSION = 1

_KEY_LEN = 32
_SALT_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16
_HPKE_SEALED_LEN = 32 + _KEY_LEN + _TAG_LEN  # X25519 enc || AES-256-GCM(32-byte key) with tag
_KEK_WRAPPED_LEN = _NONCE_LEN + _KEY_LEN + _TAG_LEN
_DIGEST_LEN = 32
# Domain separation: a sealed KEK (reused across envelopes) can never be taken for a per-message
# direct wrap (info = a bare 32-byte digest), nor a content key wrap for anything else.
_KEK_INFO = b"swg-kek-v1:"
_CEK_AAD = b"swg-cek-v1:"
# Default rotation of the sender's KEKs ([envelope] in the node config overrides them).
KEK_MAX_MESSAGES = 1000
KEK_MAX_AGE_S = 300.0

# One suite object for the process: construction is not free and encrypt/decrypt are stateless.
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_RECEIPT_KEYS = frozenset({"v", "msg", "dig", "rcp", "iat", "node"})

SigningKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]


# ---------------------------------------------------------------------------------------------
# encodings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str, what: str) -> bytes:
    """Strict base64url without padding: exactly one byte string has exactly one encoding.

    Lenient decoders ignore the unused low bits of the last character, which would let anyone change
    a signed envelope's bytes without touching what was signed.
    """
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise MalformedEnvelope(f"{what}: not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise MalformedEnvelope(f"{what}: non-canonical base64url")
    return raw


def _b64std_decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEnvelope(f"{what}: not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedEnvelope(f"{what}: non-canonical base64")
    return raw


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) for the values used here: sorted keys, no whitespace, UTF-8, integers only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedEnvelope("duplicate JSON member")
    return obj


def _strict_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, MalformedEnvelope):
            raise
        raise MalformedEnvelope(f"{what}: not JSON") from exc


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _utc(at: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) if at is None else at


# ---------------------------------------------------------------------------------------------
# JWS (RFC 7515 compact, ES256 with raw r||s, EdDSA with Ed25519, x5c)


def _alg_for(key: SigningKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise InvalidArgument(f"unsupported signing key {type(key).__name__}; use ECDSA P-256 or Ed25519")


@functools.lru_cache(maxsize=1024)
def _protected_header(alg: str, typ: str, chain: tuple[x509.Certificate, ...]) -> str:
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in chain]
    return b64url(canonical_json({"alg": alg, "typ": typ, "x5c": x5c}))


def sign_jws(payload: bytes, signer_key: SigningKey, cert_chain: Sequence[x509.Certificate], *, typ: str) -> str:
    """Sign ``payload`` as a compact JWS whose x5c carries ``cert_chain`` (leaf first)."""
    if not cert_chain:
        raise InvalidArgument("a JWS needs the signer certificate in x5c")
    alg = _alg_for(signer_key)
    signing_input = _protected_header(alg, typ, tuple(cert_chain)) + "." + b64url(payload)
    data = signing_input.encode("ascii")
    if alg == "ES256":
        assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(signer_key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        assert isinstance(signer_key, ed25519.Ed25519PrivateKey)
        signature = signer_key.sign(data)
    return signing_input + "." + b64url(signature)


@dataclass(frozen=True)
class _Protected:
    alg: str
    typ: str
    leaf_der: bytes
    leaf: x509.Certificate
    public_key: Any


@functools.lru_cache(maxsize=4096)
def _parse_protected(segment: str) -> _Protected:
    """Decode and check a protected header; cached because one signer's header repeats on every message."""
    header = _strict_json(_b64url_decode(segment, "JWS protected header"), "JWS protected header")
    if not isinstance(header, dict) or set(header) != {"alg", "typ", "x5c"}:
        raise MalformedEnvelope("JWS protected header must have exactly alg, typ and x5c")
    alg, typ, x5c = header["alg"], header["typ"], header["x5c"]
    if alg not in ALGORITHMS:
        raise BadSignature(f"JWS algorithm {alg!r} is not allowed")
    if not isinstance(typ, str) or not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        raise MalformedEnvelope("JWS typ or x5c malformed")
    leaf_der = _b64std_decode(x5c[0], "x5c[0]")
    try:
        leaf = trust_mod.load_der(leaf_der)
        public_key = leaf.public_key()
    except (TrustError, ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedEnvelope(f"x5c[0]: {exc}") from exc
    if alg == "ES256" and not (
        isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1)
    ):
        raise BadSignature("ES256 JWS but the x5c key is not ECDSA P-256")
    if alg == "EdDSA" and not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise BadSignature("EdDSA JWS but the x5c key is not Ed25519")
    return _Protected(alg, typ, leaf_der, leaf, public_key)


def _verify_jws_signature(jws: str, typ: str | None) -> tuple[bytes, _Protected]:
    """Check form and signature only (no trust decision); returns the payload and signer header."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise MalformedEnvelope("not a JWS compact serialization")
    protected = _parse_protected(parts[0])
    if typ is not None and protected.typ != typ:
        raise MalformedEnvelope(f"JWS typ {protected.typ!r}, expected {typ!r}")
    payload = _b64url_decode(parts[1], "JWS payload")
    signature = _b64url_decode(parts[2], "JWS signature")
    data = (parts[0] + "." + parts[1]).encode("ascii")
    try:
        if protected.alg == "ES256":
            if len(signature) != 64:
                raise BadSignature("ES256 signature must be 64 bytes r||s")
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            protected.public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            protected.public_key.verify(signature, data)
    except InvalidSignature as exc:
        raise BadSignature("JWS signature does not verify") from exc
    return payload, protected


def _trusted(protected: _Protected, trust: TrustStore, purpose: Purpose, at: dt.datetime | None) -> str:
    try:
        return trust.verify(protected.leaf_der, purpose, at)
    except TrustError as exc:
        raise SignerNotTrusted(exc) from exc


def verify_jws(
    jws: str, trust: TrustStore, purpose: Purpose, *, typ: str | None = None, at: dt.datetime | None = None
) -> tuple[bytes, str]:
    """Verify a compact JWS and its x5c leaf for ``purpose``; return (payload, signer name)."""
    payload, protected = _verify_jws_signature(jws, typ)
    return payload, _trusted(protected, trust, purpose, at)


# ---------------------------------------------------------------------------------------------
# keys


def _public_raw(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_key(path: Path | str) -> Any:
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def _load_cert(path: Path | str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


@dataclass(frozen=True)
class Signer:
    """A non-participant signer (a node's token key, the CA) for sign_jws: key + x5c chain."""

    key: SigningKey
    chain: tuple[x509.Certificate, ...]

    @classmethod
    def from_files(cls, key_path: Path | str, cert_path: Path | str) -> Signer:
        key, cert = _load_key(key_path), _load_cert(cert_path)
        _alg_for(key)
        if _public_raw(key.public_key()) != _public_raw(cert.public_key()):
            raise InvalidArgument(f"{key_path} does not match {cert_path}")
        return cls(key, (cert,))

    def sign(self, payload: bytes, *, typ: str) -> str:
        return sign_jws(payload, self.key, self.chain, typ=typ)


@dataclass(frozen=True)
class ParticipantKeys:
    """The keys a node holds for one hosted participant."""

    participant: str
    signing_key: SigningKey
    signing_cert: x509.Certificate
    encryption_key: x25519.X25519PrivateKey
    encryption_cert: x509.Certificate

    @classmethod
    def from_files(
        cls,
        participant: str,
        signing_key: Path | str,
        signing_cert: Path | str,
        encryption_key: Path | str,
        encryption_cert: Path | str,
    ) -> ParticipantKeys:
        """Load PEM files; checks both certificates name ``participant`` and each key matches its cert."""
        skey, scert = _load_key(signing_key), _load_cert(signing_cert)
        ekey, ecert = _load_key(encryption_key), _load_cert(encryption_cert)
        _alg_for(skey)
        if not isinstance(ekey, x25519.X25519PrivateKey):
            raise InvalidArgument(f"{encryption_key}: encryption key must be X25519")
        for path, cert in ((signing_cert, scert), (encryption_cert, ecert)):
            try:
                named = trust_mod.participant_of(cert)
            except TrustError as exc:
                raise InvalidArgument(f"{path}: {exc}") from exc
            if named != participant:
                raise InvalidArgument(f"{path} names {named!r}, not {participant!r}")
        if _public_raw(skey.public_key()) != _public_raw(scert.public_key()):
            raise InvalidArgument(f"{signing_key} does not match {signing_cert}")
        if _public_raw(ekey.public_key()) != _public_raw(ecert.public_key()):
            raise InvalidArgument(f"{encryption_key} does not match {encryption_cert}")
        return cls(participant, skey, scert, ekey, ecert)

    @functools.cached_property
    def encryption_cert_sha256(self) -> bytes:
        return trust_mod.fingerprint(self.encryption_cert.public_bytes(serialization.Encoding.DER))

    @functools.cached_property
    def encryption_public_raw(self) -> bytes:
        """The public half of the private key actually held (the opened-KEK cache is keyed by it, not
        only by the certificate, which a hand-built ParticipantKeys could pair with another key)."""
        return self.encryption_key.public_key().public_bytes_raw()


@dataclass(frozen=True)
class RecipientCertificate:
    """A recipient's X25519 encryption certificate. Callers check it with TrustStore (Purpose.ENCRYPTION)
    when they load it from the directory; seal() trusts what it is given."""

    participant: str
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.certificate.public_key(), x25519.X25519PublicKey):
            raise InvalidArgument(f"encryption certificate of {self.participant} is not X25519")

    @classmethod
    def from_pem(cls, participant: str, pem: bytes) -> RecipientCertificate:
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise InvalidArgument(f"encryption certificate of {participant}: {exc}") from exc
        return cls(participant, cert)

    @functools.cached_property
    def sha256(self) -> bytes:
        return trust_mod.fingerprint(self.certificate.public_bytes(serialization.Encoding.DER))

    @functools.cached_property
    def public_key(self) -> x25519.X25519PublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, x25519.X25519PublicKey)
        return key


# ---------------------------------------------------------------------------------------------
# key-encryption keys (security argument: docs/evidence.md, "Key wraps")


@dataclass(eq=False)
class _Kek:
    # Only the AES-GCM object is kept: the raw 32 bytes are not referenced after creation.
    aead: AESGCM = field(repr=False)
    sealed: bytes = field(repr=False)
    born: float
    uses: int = 0


def _kek_info(sender: str) -> bytes:
    return _KEK_INFO + sender.encode("utf-8")


def _new_kek(sender: str, recipient: RecipientCertificate, born: float) -> _Kek:
    kek = AESGCM.generate_key(bit_length=256)
    return _Kek(AESGCM(kek), _SUITE.encrypt(kek, recipient.public_key, info=_kek_info(sender)), born)


class KekRing:
    """The sealing node's KEKs, one per (sender, recipient encryption certificate), in memory only.

    A KEK wraps at most ``max_messages`` content keys and is used for at most ``max_age_s`` seconds,
    whichever ends first; ``max_messages <= 1`` or ``max_age_s <= 0`` gives a fresh KEK per message.
    A new process starts with none, and a recipient's new certificate gets its own KEK. Thread-safe.
    """

    def __init__(self, max_messages: int = KEK_MAX_MESSAGES, max_age_s: float = KEK_MAX_AGE_S, *,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 4096) -> None:
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._clock = clock
        self._max_entries = max_entries
        self._keks: OrderedDict[tuple[str, bytes], _Kek] = OrderedDict()
        # Creating a KEK (one HPKE seal) under the lock keeps the per-KEK count exact.
        self._lock = threading.Lock()

    @property
    def reuses(self) -> bool:
        return self.max_messages > 1 and self.max_age_s > 0

    def __len__(self) -> int:
        return len(self._keks)

    def _take(self, sender: str, recipient: RecipientCertificate) -> _Kek:
        if not self.reuses:
            return _new_kek(sender, recipient, 0.0)
        slot = (sender, recipient.sha256)
        with self._lock:
            now = self._clock()
            kek = self._keks.get(slot)
            if kek is None or kek.uses >= self.max_messages or now - kek.born >= self.max_age_s:
                kek = self._keks[slot] = _new_kek(sender, recipient, now)
                while len(self._keks) > self._max_entries:
                    self._keks.popitem(last=False)
            self._keks.move_to_end(slot)
            kek.uses += 1
            return kek


class _OpenedKeks:
    """Bounded LRU of KEKs a hosted recipient has opened, so it pays one HPKE open per KEK.

    The key holds everything the HPKE open depended on: the recipient's actual public key and
    certificate, the sender (the HPKE info) and the digest of the sealed blob. A blob that failed to
    open is never cached, so a lookup for another key, sender or blob is a miss and is opened for real.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[bytes, bytes, str, bytes], AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def open(self, recipient: ParticipantKeys, sender: str, sealed: bytes) -> AESGCM:
        """Raises InvalidTag/ValueError when ``sealed`` does not open for this key and sender."""
        slot = (recipient.encryption_public_raw, recipient.encryption_cert_sha256, sender, _sha256(sealed))
        with self._lock:
            aead = self._entries.get(slot)
            if aead is not None:
                self._entries.move_to_end(slot)
                return aead
        aead = AESGCM(_SUITE.decrypt(sealed, recipient.encryption_key, info=_kek_info(sender)))
        with self._lock:
            self._entries[slot] = aead
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return aead


_OPENED_KEKS = _OpenedKeks()


def _cek_aad(header_sha256: bytes, certificate_sha256: bytes, recipient: str) -> bytes:
    # Binds a content key wrap to this envelope's header and this recipient: a wrap under a shared KEK
    # copied into another envelope of the same window does not decrypt there.
    return _CEK_AAD + header_sha256 + certificate_sha256 + recipient.encode("utf-8")


# ---------------------------------------------------------------------------------------------
# envelopes


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


def manifest(envelope: Envelope) -> bytes:
    """The JWS payload of an envelope signature (docs/evidence.md, "Manifest"): v2 for the KEK form,
    v1 (no "k" members) for direct-form envelopes sealed before it."""
    kek_form = _kek_form(envelope)
    wraps: list[dict[str, str]] = []
    for kw in envelope.key_wraps:
        entry = {"r": kw.recipient, "c": b64url(kw.certificate_sha256), "w": b64url(_sha256(kw.wrapped_key))}
        if kek_form:
            entry["k"] = b64url(_sha256(kw.sealed_kek))
        wraps.append(entry)
    return canonical_json(
        {
            "v": MANIFEST_VERSION if kek_form else _MANIFEST_VERSION_DIRECT,
            "hdr": b64url(_sha256(envelope.header)),
            "nonce": b64url(envelope.nonce),
            "ct": b64url(_sha256(envelope.ciphertext)),
            "kw": wraps,
            "cc": b64url(envelope.content_commitment),
        }
    )


def seal(
    header: EnvelopeHeader,
    payload: bytes,
    sender: ParticipantKeys,
    recipients: Sequence[RecipientCertificate],
    keks: KekRing | None = None,
) -> Sealed:
    """Encrypt ``payload`` to every recipient and sign the result as ``sender``.

    ``keks`` (the node's KekRing) lets consecutive messages to one recipient share a sealed KEK;
    without it every call seals a fresh KEK per recipient.
    """
    if header.sender != sender.participant:
        raise SenderMismatch(f"header sender {header.sender!r} is not {sender.participant!r}")
    names = [r.participant for r in recipients]
    if not names or list(header.recipients) != names or len(set(names)) != len(names):
        raise InvalidArgument("header.recipients must list the given recipients, in order, once each")
    header_bytes = header.SerializeToString(deterministic=True)
    content_key, salt, nonce = os.urandom(_KEY_LEN), os.urandom(_SALT_LEN), os.urandom(_NONCE_LEN)
    salted = salt + payload
    header_sha256 = _sha256(header_bytes)
    wraps = []
    for r in recipients:
        kek = keks._take(sender.participant, r) if keks is not None else _new_kek(sender.participant, r, 0.0)
        wrap_nonce = os.urandom(_NONCE_LEN)
        wrapped = kek.aead.encrypt(wrap_nonce, content_key, _cek_aad(header_sha256, r.sha256, r.participant))
        wraps.append(KeyWrap(recipient=r.participant, certificate_sha256=r.sha256,
                             wrapped_key=wrap_nonce + wrapped, sealed_kek=kek.sealed))
    envelope = Envelope(
        header=header_bytes,
        nonce=nonce,
        ciphertext=AESGCM(content_key).encrypt(nonce, salted, header_bytes),
        key_wraps=wraps,
        content_commitment=_sha256(salted),
    )
    return sign_envelope(envelope, sender)


def sign_envelope(envelope: Envelope, sender: ParticipantKeys) -> Sealed:
    """Sign an assembled envelope (its ``signature`` is replaced). seal() uses it; tests use it to
    build envelopes that are well signed but wrong inside."""
    envelope.signature = sign_jws(manifest(envelope), sender.signing_key, (sender.signing_cert,), typ=ENVELOPE_TYP)
    data = envelope.SerializeToString(deterministic=True)
    return Sealed(envelope, data, _sha256(data), EnvelopeHeader.FromString(envelope.header))


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
    kek_form = _kek_form(envelope)
    for kw in envelope.key_wraps:
        if kek_form:
            wrong = len(kw.sealed_kek) != _HPKE_SEALED_LEN or len(kw.wrapped_key) != _KEK_WRAPPED_LEN
        else:
            wrong = len(kw.wrapped_key) != _HPKE_SEALED_LEN
        if len(kw.certificate_sha256) != _DIGEST_LEN or wrong:
            raise MalformedEnvelope(f"key wrap for {kw.recipient} has the wrong length (or mixes key wrap forms)")
    return envelope, header


def verify(data: bytes, trust: TrustStore, at: dt.datetime | None = None) -> Verified:
    """Check encoding, signature, signer certificate (Purpose.SIGNING at ``at``) and sender.

    Does not decrypt and does not look at header.expires_at: relaying nodes call this.
    """
    envelope, header = _parse(data)
    signed, protected = _verify_jws_signature(envelope.signature, ENVELOPE_TYP)
    if not hmac.compare_digest(signed, manifest(envelope)):
        raise BadSignature("signature does not cover this envelope (manifest differs)")
    signer = _trusted(protected, trust, Purpose.SIGNING, at)
    if signer != header.sender:
        raise SenderMismatch(f"signed by {signer!r} but header sender is {header.sender!r}")
    return Verified(header, envelope, data, _sha256(data), signer)


def open(data: bytes, recipient: ParticipantKeys, trust: TrustStore, at: dt.datetime | None = None) -> Opened:
    """verify(), then decrypt for ``recipient`` and check the content commitment."""
    verified = verify(data, trust, at)
    envelope = verified.envelope
    wrap = next(
        (kw for kw in envelope.key_wraps
         if kw.recipient == recipient.participant and kw.certificate_sha256 == recipient.encryption_cert_sha256),
        None,
    )
    if wrap is None:
        raise NotARecipient(f"{recipient.participant} (with this encryption certificate) is not a recipient")
    try:
        if wrap.sealed_kek:
            kek = _OPENED_KEKS.open(recipient, verified.header.sender, wrap.sealed_kek)
            aad = _cek_aad(_sha256(envelope.header), wrap.certificate_sha256, wrap.recipient)
            content_key = kek.decrypt(wrap.wrapped_key[:_NONCE_LEN], wrap.wrapped_key[_NONCE_LEN:], aad)
        else:
            content_key = _SUITE.decrypt(wrap.wrapped_key, recipient.encryption_key, info=_sha256(envelope.header))
        salted = AESGCM(content_key).decrypt(envelope.nonce, envelope.ciphertext, envelope.header)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed(f"cannot decrypt for {recipient.participant}") from exc
    if not hmac.compare_digest(_sha256(salted), envelope.content_commitment):
        raise CommitmentMismatch("decrypted content is not what the sender committed to")
    return Opened(verified.header, salted[_SALT_LEN:], verified.sha256, verified.signer, salted[:_SALT_LEN])


# ---------------------------------------------------------------------------------------------
# receipts


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
    raw, protected = _verify_jws_signature(jws, RECEIPT_TYP)
    body = _strict_json(raw, "receipt payload")
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
    digest = _b64url_decode(body["dig"], "receipt dig")
    if len(digest) != _DIGEST_LEN:
        raise MalformedEnvelope("receipt dig must be a SHA-256 digest")
    when = at or dt.datetime.fromtimestamp(body["iat"], dt.timezone.utc)
    signer = _trusted(protected, trust, Purpose.SIGNING, when)
    if signer != body["rcp"]:
        raise SenderMismatch(f"receipt for {body['rcp']!r} signed by {signer!r}")
    stated = Receipt(
        message_id=body["msg"], recipient=body["rcp"], envelope_sha256=digest,
        received_at=Timestamp(seconds=body["iat"]), issuing_node=body["node"], jws=jws,
    )
    if not isinstance(receipt, str) and receipt != stated:
        raise ReceiptMismatch("receipt fields differ from its signed JWS payload")
    return stated
