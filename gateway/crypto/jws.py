"""Compact JWS (RFC 7515): ES256 with raw r||s or EdDSA with Ed25519, the signer's chain in x5c.

Every signed statement of the gateway (envelopes, receipts, the directory, audit checkpoints, tokens of
other nodes) goes through ``sign_jws`` / ``verify_signature``. Decoding is strict: one byte string has
exactly one accepted encoding, so nothing can be changed without changing what was signed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from gateway.crypto import trust as trust_mod
from gateway.crypto.trust import Purpose, TrustStore
from gateway.encoding import b64url, canonical_json
from gateway.errors import BadSignature, InvalidArgument, MalformedEnvelope, SignerNotTrusted, TrustError

ALGORITHMS = frozenset({"ES256", "EdDSA"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

SigningKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]


class KeySigner(Protocol):
    """A signing key that may live outside this process (a PKCS#11 token): its JWS ``alg`` and
    ``sign(data)`` returning the JWS signature bytes (raw r||s for ES256)."""

    @property
    def alg(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


# What sign_jws accepts: a key in memory (loaded from a PEM file) or a KeySigner (gateway.crypto.pkcs11).
AnySigningKey = Union[SigningKey, KeySigner]


def b64url_decode(text: str, what: str) -> bytes:
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


def hex_digest(text: str, what: str) -> bytes:
    """A SHA-256 digest as the gateway spells it: 64 lowercase hex digits, nothing else (one spelling
    per digest, so that a signed statement has exactly one byte form)."""
    if not _HEX_DIGEST.fullmatch(text):
        raise MalformedEnvelope(f"{what}: not a SHA-256 digest in lowercase hex")
    return bytes.fromhex(text)


def b64std_decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEnvelope(f"{what}: not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedEnvelope(f"{what}: non-canonical base64")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedEnvelope("duplicate JSON member")
    return obj


def strict_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, MalformedEnvelope):
            raise
        raise MalformedEnvelope(f"{what}: not JSON") from exc



def alg_for(key: SigningKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise InvalidArgument(f"unsupported signing key {type(key).__name__}; use ECDSA P-256 or Ed25519")


@functools.lru_cache(maxsize=1024)
def _protected_header(alg: str, typ: str, chain: tuple[x509.Certificate, ...]) -> str:
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in chain]
    return b64url(canonical_json({"alg": alg, "typ": typ, "x5c": x5c}))


def signing_alg(key: AnySigningKey) -> str:
    """The JWS alg of a file key (ES256 / EdDSA by its type) or of a KeySigner."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return alg_for(key)
    if key.alg not in ALGORITHMS:
        raise InvalidArgument(f"unsupported signing algorithm {key.alg!r}; use ES256 or EdDSA")
    return key.alg


def sign_jws(payload: bytes, signer_key: AnySigningKey, cert_chain: Sequence[x509.Certificate], *, typ: str) -> str:
    """Sign ``payload`` as a compact JWS whose x5c carries ``cert_chain`` (leaf first)."""
    if not cert_chain:
        raise InvalidArgument("a JWS needs the signer certificate in x5c")
    alg = signing_alg(signer_key)
    signing_input = _protected_header(alg, typ, tuple(cert_chain)) + "." + b64url(payload)
    data = signing_input.encode("ascii")
    if not isinstance(signer_key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        signature = signer_key.sign(data)
    elif alg == "ES256":
        assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(signer_key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        assert isinstance(signer_key, ed25519.Ed25519PrivateKey)
        signature = signer_key.sign(data)
    return signing_input + "." + b64url(signature)


@dataclass(frozen=True)
class Protected:
    alg: str
    typ: str
    leaf_der: bytes
    leaf: x509.Certificate
    public_key: Any


@functools.lru_cache(maxsize=4096)
def _parse_protected(segment: str) -> Protected:
    """Decode and check a protected header; cached because one signer's header repeats on every message."""
    header = strict_json(b64url_decode(segment, "JWS protected header"), "JWS protected header")
    if not isinstance(header, dict) or set(header) != {"alg", "typ", "x5c"}:
        raise MalformedEnvelope("JWS protected header must have exactly alg, typ and x5c")
    alg, typ, x5c = header["alg"], header["typ"], header["x5c"]
    if alg not in ALGORITHMS:
        raise BadSignature(f"JWS algorithm {alg!r} is not allowed")
    if not isinstance(typ, str) or not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        raise MalformedEnvelope("JWS typ or x5c malformed")
    leaf_der = b64std_decode(x5c[0], "x5c[0]")
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
    return Protected(alg, typ, leaf_der, leaf, public_key)


def verify_signature(jws: str, typ: str | None) -> tuple[bytes, Protected]:
    """Check form and signature only (no trust decision); returns the payload and signer header."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise MalformedEnvelope("not a JWS compact serialization")
    protected = _parse_protected(parts[0])
    if typ is not None and protected.typ != typ:
        raise MalformedEnvelope(f"JWS typ {protected.typ!r}, expected {typ!r}")
    payload = b64url_decode(parts[1], "JWS payload")
    signature = b64url_decode(parts[2], "JWS signature")
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


def trusted(protected: Protected, trust: TrustStore, purpose: Purpose, at: dt.datetime | None) -> str:
    try:
        return trust.verify(protected.leaf_der, purpose, at)
    except TrustError as exc:
        raise SignerNotTrusted(exc) from exc


def verify_jws(
    jws: str, trust: TrustStore, purpose: Purpose, *, typ: str | None = None, at: dt.datetime | None = None
) -> tuple[bytes, str]:
    """Verify a compact JWS and its x5c leaf for ``purpose``; return (payload, signer name)."""
    payload, protected = verify_signature(jws, typ)
    return payload, trusted(protected, trust, purpose, at)

