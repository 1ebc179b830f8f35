"""The federation CA's detached signature over the exact bytes of the directory file.

The signature file holds a compact JWS whose payload segment is empty (RFC 7515 appendix F): the
payload is the directory file itself, so the TOML an operator reads is byte for byte what was signed.
Certificates the directory names are pinned by SHA-256 inside the signed text (``pin_certificates``),
so replacing a certificate file beside a signed directory is detected as well.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from gateway.config.settings import NodeConfig, signature_path
from gateway.crypto.certificates import pem_file_sha256_hex
from gateway.crypto.composite import public_key_file_sha256_hex
from gateway.crypto.jws import verify_jws
from gateway.crypto.keys import Signer
from gateway.crypto.trust import Purpose, TrustStore
from gateway.encoding import b64url
from gateway.errors import ConfigError, FieldViolation, GatewayError, InvalidArgument
from gateway.federation.model import Directory
from gateway.federation.parse import parse_directory_bytes

__all__ = ["DIRECTORY_TYP", "PINNED_KEYS", "DirectorySignatureError", "pin_certificates", "read_signed_directory",
           "sign", "signature_path", "verify"]

DIRECTORY_TYP = "swg-directory+jws"
# Certificate keys of the directory and the key holding each one's pin.
PINNED_KEYS = {"tls_certificate": "tls_certificate_sha256", "encryption_certificate": "encryption_certificate_sha256",
               "pq_encryption_key": "pq_encryption_key_sha256", "pq_signing_key": "pq_signing_key_sha256"}
_CERT_LINE = re.compile(r'^(?P<indent>\s*)(?P<key>tls_certificate|encryption_certificate|pq_encryption_key|'
                        r'pq_signing_key)\s*=\s*"(?P<path>[^"]+)"\s*$')
_PIN_LINE = re.compile(r"^\s*(tls_certificate_sha256|encryption_certificate_sha256|pq_encryption_key_sha256|"
                       r"pq_signing_key_sha256)\s*=")


class DirectorySignatureError(GatewayError):
    """The directory's signature is missing, malformed, not by the federation CA, or not over these bytes."""


def sign(data: bytes, signer: Signer) -> str:
    """A detached JWS over ``data``: ``header..signature``."""
    header, _payload, signature = signer.sign(data, typ=DIRECTORY_TYP).split(".")
    return f"{header}..{signature}"


def verify(data: bytes, signature: str, trust: TrustStore) -> None:
    """Raise DirectorySignatureError unless ``signature`` is the federation CA's over exactly ``data``."""
    parts = signature.strip().split(".")
    if len(parts) != 3 or parts[1] != "":
        raise DirectorySignatureError("not a detached JWS (header..signature)")
    try:
        verify_jws(f"{parts[0]}.{b64url(data)}.{parts[2]}", trust, Purpose.CA, typ=DIRECTORY_TYP)
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
            pin = public_key_file_sha256_hex(cert) if m["key"].startswith("pq_") else pem_file_sha256_hex(cert)
            out.append(f'{m["indent"]}{PINNED_KEYS[m["key"]]} = "{pin}"\n')
    return "".join(out)


def read_signed_directory(cfg: NodeConfig) -> Directory:
    """The node's directory, refused unless the federation CA signed these exact bytes and every certificate
    it names is pinned — or the node explicitly runs unsigned (allow_unsigned_directory, development only)."""
    path = cfg.directory
    data = _read_directory(path)
    sig_path = cfg.directory_signature or signature_path(path)
    signature, problems = _check_signature(cfg, data, sig_path, _read_signature(sig_path))
    directory = _parse_signed(data, path, problems)
    if signature:
        problems += _unpinned(directory)
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(directory, signature=signature)


def _read_directory(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError([FieldViolation("node.directory", f"unreadable: {exc}")]) from None


def _read_signature(sig_path: Path) -> str:
    # A missing signature file is judged by _check_signature (allowed only when running unsigned).
    try:
        return sig_path.read_text().strip()
    except OSError:
        return ""


def _check_signature(cfg: NodeConfig, data: bytes, sig_path: Path,
                     signature: str) -> tuple[str, list[FieldViolation]]:
    """The signature the directory is taken under ("" when unsigned) and the problems with it."""
    problems: list[FieldViolation] = []
    if not signature:
        if not cfg.allow_unsigned_directory:
            problems.append(FieldViolation("node.directory_signature", f"no signature at {sig_path}; sign the "
                                           "directory with `gateway directory sign` (or set "
                                           "node.allow_unsigned_directory = true for development only)"))
        return signature, problems
    try:
        verify(data, signature, TrustStore.from_files(cfg.tls.ca))
    except DirectorySignatureError as exc:
        if not cfg.allow_unsigned_directory:
            problems.append(FieldViolation("node.directory_signature", f"{sig_path}: {exc.message}"))
        signature = ""
    return signature, problems


def _parse_signed(data: bytes, path: Path, problems: list[FieldViolation]) -> Directory:
    """Parse the bytes checked; directory problems are named by file, after the signature's own."""
    try:
        return parse_directory_bytes(data, path)
    except ConfigError as exc:
        raise ConfigError(problems + [FieldViolation(f"{path.name}: {p.field}", p.description)
                                      for p in exc.problems]) from None


def _unpinned(directory: Directory) -> list[FieldViolation]:
    return [FieldViolation(f"{directory.path.name}: {key}", "missing: a signed directory must pin every certificate "
                           "it names (`gateway directory pin`)") for key in directory.unpinned]
