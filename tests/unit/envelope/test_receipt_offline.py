"""A third party verifies envelope signatures, content commitments and receipts following
docs/evidence.md, with joserfc, cryptography's x509 and hashlib only: nothing from gateway.envelope.

The `offline_evidence` fixture (tests/conftest.py) hands over files, as a party would receive them.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from gateway.api.swg.v1.envelope_pb2 import Envelope  # generated from protos/swg/v1/envelope.proto

ALLOWED = {"ES256", "EdDSA"}

# The envelope format fixes "EdDSA" (RFC 8037); RFC 9864 prefers the fully specified "Ed25519" and
# joserfc warns about it. See docs/evidence.md.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jcs(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_certificate(cert: x509.Certificate, evidence: Path, at: dt.datetime) -> str:
    """Steps C1-C5 of docs/evidence.md; returns the participant the certificate names."""
    ca = x509.load_pem_x509_certificate((evidence / "ca.crt").read_bytes())
    crl = x509.load_pem_x509_crl((evidence / "crl.pem").read_bytes())
    cert.verify_directly_issued_by(ca)  # C1: raises if not signed by the federation CA
    assert cert.not_valid_before_utc <= at <= cert.not_valid_after_utc  # C2
    assert crl.is_signature_valid(ca.public_key()) and crl.issuer == ca.subject  # C3
    assert crl.next_update_utc is not None and dt.datetime.now(dt.timezone.utc) <= crl.next_update_utc
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value  # C4
    assert ku.digital_signature and ku.content_commitment and not ku.key_agreement
    assert x509.ExtendedKeyUsage not in {type(e.value) for e in cert.extensions}
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    (uri,) = [u for u in uris if u.startswith("urn:swg:participant:")]  # C5
    return uri.removeprefix("urn:swg:participant:")


def verify_jws(token: str, typ: str) -> tuple[dict, bytes, x509.Certificate]:
    """Steps J1-J3: header checks, x5c leaf, signature with joserfc."""
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["alg"] in ALLOWED and header["typ"] == typ
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    key = ECKey.import_key(cert.public_key()) if header["alg"] == "ES256" else OKPKey.import_key(cert.public_key())
    registry = JWSRegistry(algorithms=[header["alg"]])
    registry.max_header_length = 4096  # joserfc's default 512 bytes is too small for an x5c certificate
    obj = jws.deserialize_compact(token, key, registry=registry)
    return header, obj.payload, cert


def manifest(envelope: Envelope) -> bytes:
    """Section 1 of docs/evidence.md, version 4 (KEK form, classic): every digest in lowercase hex."""
    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()
    wraps = [{"r": kw.recipient, "c": kw.certificate_sha256.hex(), "k": sha(kw.sealed_kek), "w": sha(kw.wrapped_key)}
             for kw in envelope.key_wraps]
    return jcs({
        "v": 4,
        "hdr": sha(envelope.header),
        "nonce": b64url(envelope.nonce),
        "ct": sha(envelope.ciphertext),
        "kw": wraps,
        "cc": envelope.content_commitment.hex(),
    })


def test_envelope_signature_and_manifest(offline_evidence: Path) -> None:
    data = (offline_evidence / "envelope.bin").read_bytes()
    envelope = Envelope.FromString(data)
    _, payload, cert = verify_jws(envelope.signature, "swg-envelope+jws")
    assert all(len(kw.sealed_kek) == 80 and len(kw.wrapped_key) == 60 for kw in envelope.key_wraps)  # KEK form
    assert payload == manifest(envelope)
    assert json.loads(payload)["v"] == 4
    from gateway.api.swg.v1.envelope_pb2 import EnvelopeHeader

    header = EnvelopeHeader.FromString(envelope.header)
    assert [kw.recipient for kw in envelope.key_wraps] == list(header.recipients)
    assert check_certificate(cert, offline_evidence, dt.datetime.now(dt.timezone.utc)) == header.sender


def test_a_swapped_sealed_kek_no_longer_matches_the_signed_manifest(offline_evidence: Path) -> None:
    envelope = Envelope.FromString((offline_evidence / "envelope.bin").read_bytes())
    _, payload, _ = verify_jws(envelope.signature, "swg-envelope+jws")
    first, second = envelope.key_wraps
    first.sealed_kek, second.sealed_kek = second.sealed_kek, first.sealed_kek
    assert payload != manifest(envelope)


def test_content_commitment_reveal(offline_evidence: Path) -> None:
    envelope = Envelope.FromString((offline_evidence / "envelope.bin").read_bytes())
    reveal = (offline_evidence / "reveal.bin").read_bytes()
    assert hashlib.sha256(reveal).digest() == envelope.content_commitment
    assert reveal[32:] == b"<item>RR123456785DE</item>"  # the first 32 bytes are the salt


def test_receipt(offline_evidence: Path) -> None:
    token = (offline_evidence / "receipt.jws").read_text()
    _, payload, cert = verify_jws(token, "swg-receipt+jws")
    claims = json.loads(payload)
    assert set(claims) == {"v", "msg", "dig", "rcp", "iat", "node"} and claims["v"] == 2
    assert payload == jcs(claims)
    iat = dt.datetime.fromtimestamp(claims["iat"], dt.timezone.utc)
    assert check_certificate(cert, offline_evidence, iat) == claims["rcp"]
    data = (offline_evidence / "envelope.bin").read_bytes()
    assert claims["dig"] == hashlib.sha256(data).hexdigest()


def test_a_tampered_receipt_is_refused_by_joserfc(offline_evidence: Path) -> None:
    token = (offline_evidence / "receipt.jws").read_text()
    h, p, s = token.split(".")
    claims = json.loads(b64url_decode(p))
    claims["rcp"] = "DE/TAX/MAIN"
    forged = ".".join((h, b64url(jcs(claims)), s))
    try:
        verify_jws(forged, "swg-receipt+jws")
    except Exception as exc:  # joserfc raises BadSignatureError
        assert "signature" in type(exc).__name__.lower()
    else:
        raise AssertionError("forged receipt verified")


def test_this_module_does_not_use_the_gateway_envelope_code() -> None:
    tree = ast.parse(Path(__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert {m for m in imported if m and m.startswith("gateway") and not m.startswith("gateway.api")} == set()
