"""Key types and their loading from PEM files: signers, a hosted participant's keys, recipient certificates.

Loading checks that each key matches its certificate and that participant certificates name the
participant, so a misconfigured node fails at start, not on its first message.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from gateway.crypto import trust as trust_mod
from gateway.crypto.certificates import fingerprint
from gateway.crypto.jws import SigningKey, alg_for, sign_jws
from gateway.errors import InvalidArgument, TrustError


def _public_raw(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# Any, not PrivateKeyTypes: each caller checks the key type it needs (alg_for, isinstance) right after.
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
        alg_for(key)
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
        alg_for(skey)
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
        return fingerprint(self.certificate)

    @functools.cached_property
    def public_key(self) -> x25519.X25519PublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, x25519.X25519PublicKey)
        return key

