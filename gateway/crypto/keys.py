"""Key types and their loading from PEM files or PKCS#11 tokens: signers, a hosted participant's keys,
recipient certificates.

A signing key is named either by a PEM file path or by an RFC 7512 ``pkcs11:`` URI (gateway.crypto.pkcs11);
both give a key ``sign_jws`` accepts, and both are checked against their certificate at load.

Loading checks that each key matches its certificate and that participant certificates name the
participant, so a misconfigured node fails at start, not on its first message.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from gateway.crypto import composite
from gateway.crypto import trust as trust_mod
from gateway.crypto.certificates import fingerprint
from gateway.crypto import pkcs11 as pkcs11_mod
from gateway.crypto.jws import AnySigningKey, alg_for, sign_jws, verify_signature
from gateway.errors import BadSignature, InvalidArgument, MalformedEnvelope, TrustError


def _public_raw(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# Any, not PrivateKeyTypes: each caller checks the key type it needs (alg_for, isinstance) right after.
def _load_key(path: Path | str) -> Any:
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def _load_cert(path: Path | str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_signing_key(spec: Path | str, pkcs11: pkcs11_mod.Pkcs11Options | None = None) -> AnySigningKey:
    """A signing key from a PEM file, or from a PKCS#11 token when ``spec`` is a ``pkcs11:`` URI."""
    if isinstance(spec, str) and pkcs11_mod.is_uri(spec):
        return pkcs11_mod.open_signer(spec, pkcs11)
    key = _load_key(spec)
    alg_for(key)
    return key  # type: ignore[no-any-return]


_KEY_CHECK_TYP = "swg-key-check"


def check_key_matches(key: AnySigningKey, cert: x509.Certificate, key_name: object, cert_name: object) -> None:
    """Refuse a key whose public half is not the certificate's. A key in memory is compared directly; a
    token key signs a check statement that must verify with the certificate (this also proves the token
    can sign with it, so a node with an unusable HSM key fails at start, not on its first message)."""
    if isinstance(key, pkcs11_mod.Pkcs11Signer):
        if key.public_key is not None and _public_raw(key.public_key) != _public_raw(cert.public_key()):
            raise InvalidArgument(f"{key_name}: the token's key does not match the certificate {cert_name}")
        try:
            verify_signature(sign_jws(b"key check", key, (cert,), typ=_KEY_CHECK_TYP), _KEY_CHECK_TYP)
        except (BadSignature, MalformedEnvelope) as exc:
            raise InvalidArgument(f"{key_name}: the token's key does not match the certificate {cert_name}"
                                  ) from exc
        return
    if _public_raw(key.public_key()) != _public_raw(cert.public_key()):  # type: ignore[union-attr]
        raise InvalidArgument(f"{key_name} does not match {cert_name}")


@dataclass(frozen=True)
class Signer:
    """A non-participant signer (a node's token key, the CA) for sign_jws: key + x5c chain."""

    key: AnySigningKey
    chain: tuple[x509.Certificate, ...]

    @classmethod
    def from_files(cls, key_path: Path | str, cert_path: Path | str,
                   pkcs11: pkcs11_mod.Pkcs11Options | None = None) -> Signer:
        """``key_path`` is a PEM file or a ``pkcs11:`` URI."""
        key, cert = load_signing_key(key_path, pkcs11), _load_cert(cert_path)
        check_key_matches(key, cert, key_path, cert_path)
        return cls(key, (cert,))

    def sign(self, payload: bytes, *, typ: str) -> str:
        return sign_jws(payload, self.key, self.chain, typ=typ)


@dataclass(frozen=True)
class ParticipantKeys:
    """The keys a node holds for one hosted participant."""

    participant: str
    signing_key: AnySigningKey
    signing_cert: x509.Certificate
    encryption_key: x25519.X25519PrivateKey
    encryption_cert: x509.Certificate
    # hybrid-pq profile (gateway.envelope.profiles): the ML-DSA-65 half of composite signatures and the
    # ML-KEM-768 half of the hybrid encryption key; their public keys are bound by the directory.
    pq_signing_key: mldsa.MLDSA65PrivateKey | None = None
    pq_encryption_key: mlkem.MLKEM768PrivateKey | None = None

    @classmethod
    def from_files(
        cls,
        participant: str,
        signing_key: Path | str,
        signing_cert: Path | str,
        encryption_key: Path | str,
        encryption_cert: Path | str,
        pkcs11: pkcs11_mod.Pkcs11Options | None = None,
        pq_signing_key: Path | str | None = None,
        pq_encryption_key: Path | str | None = None,
    ) -> ParticipantKeys:
        """Load PEM files (``signing_key`` may be a ``pkcs11:`` URI); checks both certificates name
        ``participant`` and each key matches its cert."""
        scert = _load_cert(signing_cert)
        ekey, ecert = _load_key(encryption_key), _load_cert(encryption_cert)
        if not isinstance(ekey, x25519.X25519PrivateKey):
            raise InvalidArgument(f"{encryption_key}: encryption key must be X25519")
        for path, cert in ((signing_cert, scert), (encryption_cert, ecert)):
            try:
                named = trust_mod.participant_of(cert)
            except TrustError as exc:
                raise InvalidArgument(f"{path}: {exc}") from exc
            if named != participant:
                raise InvalidArgument(f"{path} names {named!r}, not {participant!r}")
        skey = load_signing_key(signing_key, pkcs11)
        check_key_matches(skey, scert, signing_key, signing_cert)
        if _public_raw(ekey.public_key()) != _public_raw(ecert.public_key()):
            raise InvalidArgument(f"{encryption_key} does not match {encryption_cert}")
        pq_s = composite.load_mldsa_private(Path(pq_signing_key)) if pq_signing_key else None
        pq_e = composite.load_mlkem_private(Path(pq_encryption_key)) if pq_encryption_key else None
        return cls(participant, skey, scert, ekey, ecert, pq_s, pq_e)

    @functools.cached_property
    def hybrid_encryption_key(self) -> hpke.MLKEM768X25519PrivateKey | None:
        """ML-KEM-768 + the certified X25519 key, for HPKE MLKEM768_X25519 (None without a PQ key)."""
        if self.pq_encryption_key is None:
            return None
        return hpke.MLKEM768X25519PrivateKey(self.pq_encryption_key, self.encryption_key)

    @functools.cached_property
    def pq_encryption_sha256(self) -> bytes:
        """SHA-256 of the ML-KEM-768 public key's SPKI (b"" without one): the key wraps' pq_key_sha256."""
        return b"" if self.pq_encryption_key is None else composite.public_key_sha256(
            self.pq_encryption_key.public_key())

    @functools.cached_property
    def pq_signing_sha256(self) -> bytes:
        return b"" if self.pq_signing_key is None else composite.public_key_sha256(self.pq_signing_key.public_key())

    @functools.cached_property
    def encryption_cert_sha256(self) -> bytes:
        return fingerprint(self.encryption_cert)

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
    # The ML-KEM-768 key the directory binds to the participant (hybrid-pq); None: it announces none.
    pq_key: mlkem.MLKEM768PublicKey | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.certificate.public_key(), x25519.X25519PublicKey):
            raise InvalidArgument(f"encryption certificate of {self.participant} is not X25519")

    @classmethod
    def from_pem(cls, participant: str, pem: bytes, pq_key: mlkem.MLKEM768PublicKey | None = None
                 ) -> RecipientCertificate:
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise InvalidArgument(f"encryption certificate of {participant}: {exc}") from exc
        return cls(participant, cert, pq_key)

    @functools.cached_property
    def hybrid_public_key(self) -> hpke.MLKEM768X25519PublicKey | None:
        if self.pq_key is None:
            return None
        return hpke.MLKEM768X25519PublicKey(self.pq_key, self.public_key)

    @functools.cached_property
    def pq_sha256(self) -> bytes:
        return b"" if self.pq_key is None else composite.public_key_sha256(self.pq_key)

    @functools.cached_property
    def sha256(self) -> bytes:
        return fingerprint(self.certificate)

    @functools.cached_property
    def public_key(self) -> x25519.X25519PublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, x25519.X25519PublicKey)
        return key

