"""The certificate fingerprint: SHA-256 of the certificate's DER, in one place.

The same bytes are the trust cache key, the ``certificate_sha256`` of key wraps, the directory's pins,
the audit log's key fingerprints and the ``x5t#S256`` of bound tokens, so they must never diverge.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def fingerprint(cert: x509.Certificate | bytes) -> bytes:
    """SHA-256 of the certificate's DER (given as a parsed certificate or as DER bytes)."""
    der = cert if isinstance(cert, bytes) else cert.public_bytes(Encoding.DER)
    return hashlib.sha256(der).digest()


def pem_file_fingerprint(path: Path) -> bytes:
    """Fingerprint of a PEM certificate file that holds nothing before its certificate.

    Strict on purpose (ssl's parser refuses leading text): the directory pins exactly such files.
    Raises ValueError when the file is not a PEM certificate.
    """
    return fingerprint(ssl.PEM_cert_to_DER_cert(path.read_text()))


def pem_file_sha256_hex(path: Path) -> str:
    """The fingerprint as the directory writes its pins: 64 lowercase hex digits."""
    return pem_file_fingerprint(path).hex()
