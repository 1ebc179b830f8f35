"""The federation CA's detached signature over the exact bytes of the directory file.

The signature file holds a compact JWS whose payload segment is empty (RFC 7515 appendix F): the
payload is the directory file itself, so the TOML an operator reads is byte for byte what was signed.
Certificates the directory names are pinned by SHA-256 inside the signed text (``pin_certificates``),
so replacing a certificate file beside a signed directory is detected as well.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path

from gateway import envelope
from gateway.errors import GatewayError, InvalidArgument
from gateway.crypto.trust import Purpose, TrustStore

DIRECTORY_TYP = "swg-directory+jws"
# Certificate keys of the directory and the key holding each one's pin.
PINNED_KEYS = {"tls_certificate": "tls_certificate_sha256", "encryption_certificate": "encryption_certificate_sha256"}
_CERT_LINE = re.compile(r'^(?P<indent>\s*)(?P<key>tls_certificate|encryption_certificate)\s*=\s*"(?P<path>[^"]+)"\s*$')
_PIN_LINE = re.compile(r"^\s*(tls_certificate_sha256|encryption_certificate_sha256)\s*=")


class DirectorySignatureError(GatewayError):
    """The directory's signature is missing, malformed, not by the federation CA, or not over these bytes."""


def signature_path(directory: Path) -> Path:
    """Where the signature lives unless the node config says otherwise: ``<directory>.jws`` beside it."""
    return directory.with_name(directory.name + ".jws")


def certificate_sha256_hex(pem_path: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem_path.read_text())).hexdigest()


def sign(data: bytes, signer: envelope.Signer) -> str:
    """A detached JWS over ``data``: ``header..signature``."""
    header, _payload, signature = signer.sign(data, typ=DIRECTORY_TYP).split(".")
    return f"{header}..{signature}"


def verify(data: bytes, signature: str, trust: TrustStore) -> None:
    """Raise DirectorySignatureError unless ``signature`` is the federation CA's over exactly ``data``."""
    parts = signature.strip().split(".")
    if len(parts) != 3 or parts[1] != "":
        raise DirectorySignatureError("not a detached JWS (header..signature)")
    try:
        envelope.verify_jws(f"{parts[0]}.{envelope.b64url(data)}.{parts[2]}", trust, Purpose.CA, typ=DIRECTORY_TYP)
    except GatewayError as exc:
        raise DirectorySignatureError(f"does not verify against the federation CA: {exc.message}") from None


def pin_certificates(text: str, base: Path) -> str:
    """``text`` with a SHA-256 pin after every certificate path (existing pins are recomputed).

    Line-based on purpose: the signed text must stay exactly what the operator wrote, comments included,
    and the directory keeps each certificate key on its own line.
    """
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if _PIN_LINE.match(line):
            continue
        out.append(line)
        m = _CERT_LINE.match(line.rstrip("\n"))
        if m:
            cert = (base / m["path"]).resolve()
            if not cert.is_file():
                raise InvalidArgument(f"{m['key']} = {m['path']!r}: file not found: {cert}")
            out.append(f'{m["indent"]}{PINNED_KEYS[m["key"]]} = "{certificate_sha256_hex(cert)}"\n')
    return "".join(out)
