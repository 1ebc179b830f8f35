"""The certificate fingerprint is one value, whichever form of the certificate it is taken from."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.crypto import trust
from gateway.crypto.certificates import fingerprint, pem_file_fingerprint, pem_file_sha256_hex
from gateway.testing.federation import Federation


def test_every_form_of_a_certificate_has_the_same_fingerprint(federation: Federation, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(federation.paths.ca_cert.read_bytes())
    expected = cert.fingerprint(hashes.SHA256())
    assert fingerprint(cert) == fingerprint(cert.public_bytes(Encoding.DER)) == expected
    assert pem_file_fingerprint(federation.paths.ca_cert) == expected
    assert pem_file_sha256_hex(federation.paths.ca_cert) == expected.hex()
    assert trust.certificate_file_sha256(federation.paths.ca_cert) == expected.hex()
    assert trust.fingerprint(cert.public_bytes(Encoding.DER)) == expected


def test_key_wraps_name_the_recipient_certificate_by_its_fingerprint(federation: Federation) -> None:
    keys = federation.keys("DE/CUSTOMS/MAIN")
    [recipient] = federation.recipients(["DE/CUSTOMS/MAIN"])
    assert keys.encryption_cert_sha256 == recipient.sha256 == fingerprint(keys.encryption_cert)


def test_a_pinned_file_must_be_nothing_but_a_pem_certificate(federation: Federation, tmp_path: Path) -> None:
    path = tmp_path / "commented.crt"
    path.write_text("# a comment\n" + federation.paths.ca_cert.read_text())
    with pytest.raises(ValueError):
        pem_file_sha256_hex(path)
