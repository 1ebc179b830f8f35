"""Composite signatures (classic JWS AND ML-DSA-65) and the post-quantum key files.

A composite signature is ``<compact JWS>~<base64url ML-DSA-65 signature>``. The JWS is an ordinary
classic one (ES256 or EdDSA with x5c, gateway.crypto.jws); the ML-DSA-65 signature is over the same
JWS signing input (``protected.payload``, ASCII) with the context ``swg-composite-v1``. Both sign the
same bytes, so neither can be replaced on its own, and a verifier requires both: the payload of every
composite-signed statement names the signer's ML-DSA key (``pq``), so a composite stripped of its PQ
half is a classic JWS whose payload still demands one and is refused.

``cryptography`` cannot issue X.509 certificates for ML-KEM or ML-DSA keys, so these public keys are
bound to their participant by the CA-signed directory (pinned by SHA-256 of their SubjectPublicKeyInfo
DER); see docs/evidence.md, "Crypto profiles".
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

from gateway.crypto.jws import b64url_decode
from gateway.encoding import b64url
from gateway.errors import BadSignature, InvalidArgument, MalformedEnvelope

__all__ = [
    "PQ_SIGNATURE_ALG", "PQ_KEM_ALG", "SEPARATOR", "CONTEXT", "compose", "split", "verify_pq_half",
    "public_key_sha256", "public_key_file_sha256_hex", "load_mldsa_public", "load_mlkem_public",
    "load_mldsa_private", "load_mlkem_private", "new_mldsa_key", "new_mlkem_key", "private_pem", "public_pem",
]

PQ_SIGNATURE_ALG = "ML-DSA-65"
PQ_KEM_ALG = "ML-KEM-768"
SEPARATOR = "~"
CONTEXT = b"swg-composite-v1"
_MLDSA65_SIG_LEN = 3309


def public_key_sha256(key: mldsa.MLDSA65PublicKey | mlkem.MLKEM768PublicKey) -> bytes:
    """SHA-256 of the key's SubjectPublicKeyInfo DER: the directory's pin and the ``pq`` key id."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def _load_public(path: Path) -> Any:
    try:
        return serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"{path}: not a PEM public key: {exc}") from exc


def _load_private(path: Path) -> Any:
    try:
        return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidArgument(f"{path}: not an unencrypted PEM private key: {exc}") from exc


def load_mldsa_public(path: Path) -> mldsa.MLDSA65PublicKey:
    key = _load_public(path)
    if not isinstance(key, mldsa.MLDSA65PublicKey):
        raise InvalidArgument(f"{path}: not an ML-DSA-65 public key")
    return key


def load_mlkem_public(path: Path) -> mlkem.MLKEM768PublicKey:
    key = _load_public(path)
    if not isinstance(key, mlkem.MLKEM768PublicKey):
        raise InvalidArgument(f"{path}: not an ML-KEM-768 public key")
    return key


def load_mldsa_private(path: Path) -> mldsa.MLDSA65PrivateKey:
    key = _load_private(path)
    if not isinstance(key, mldsa.MLDSA65PrivateKey):
        raise InvalidArgument(f"{path}: not an ML-DSA-65 private key")
    return key


def load_mlkem_private(path: Path) -> mlkem.MLKEM768PrivateKey:
    key = _load_private(path)
    if not isinstance(key, mlkem.MLKEM768PrivateKey):
        raise InvalidArgument(f"{path}: not an ML-KEM-768 private key")
    return key


def public_key_file_sha256_hex(path: Path) -> str:
    """The directory's pin of an ML-DSA-65 or ML-KEM-768 public key file. Raises ValueError otherwise."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(key, (mldsa.MLDSA65PublicKey, mlkem.MLKEM768PublicKey)):
        raise ValueError("not an ML-DSA-65 or ML-KEM-768 public key")
    return public_key_sha256(key).hex()


def new_mldsa_key() -> mldsa.MLDSA65PrivateKey:
    return mldsa.MLDSA65PrivateKey.generate()


def new_mlkem_key() -> mlkem.MLKEM768PrivateKey:
    return mlkem.MLKEM768PrivateKey.generate()


def private_pem(key: mldsa.MLDSA65PrivateKey | mlkem.MLKEM768PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: mldsa.MLDSA65PublicKey | mlkem.MLKEM768PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _signing_input(classic_jws: str) -> bytes:
    parts = classic_jws.split(".")
    if len(parts) != 3:
        raise MalformedEnvelope("not a JWS compact serialization")
    return (parts[0] + "." + parts[1]).encode("ascii")


def compose(classic_jws: str, pq_key: mldsa.MLDSA65PrivateKey) -> str:
    """Add the ML-DSA-65 half to a classic JWS whose payload already names ``pq_key`` (its ``pq``)."""
    return classic_jws + SEPARATOR + b64url(pq_key.sign(_signing_input(classic_jws), CONTEXT))


def split(signature: str) -> tuple[str, bytes | None]:
    """(classic JWS, ML-DSA signature or None when there is no PQ half). Strict: one separator at most."""
    parts = signature.split(SEPARATOR)
    if len(parts) == 1:
        return signature, None
    if len(parts) != 2 or not parts[1]:
        raise MalformedEnvelope("composite signature must be <JWS>~<ML-DSA-65 signature>")
    pq = b64url_decode(parts[1], "ML-DSA-65 signature")
    if len(pq) != _MLDSA65_SIG_LEN:
        raise BadSignature(f"ML-DSA-65 signature must be {_MLDSA65_SIG_LEN} bytes")
    return parts[0], pq


def verify_pq_half(classic_jws: str, pq_signature: bytes, key: mldsa.MLDSA65PublicKey) -> None:
    try:
        key.verify(pq_signature, _signing_input(classic_jws), CONTEXT)
    except InvalidSignature as exc:
        raise BadSignature("the ML-DSA-65 half of the composite signature does not verify") from exc
