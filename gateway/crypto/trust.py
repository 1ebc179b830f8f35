"""The federation trust store: is this certificate, issued by our CA, fit for this purpose, now?

The federation has one root CA that issues every leaf directly (no intermediates), so a check is:
CA signature, validity window, CRL, key usage for the purpose, and the name the certificate carries.
Successful checks are cached by certificate fingerprint because envelope verification is on the hot
path; a cached entry is only trusted inside its validity window, and reloading the CRL empties the cache.

A running node re-reads its CRL file (``refresh_crl``, every ``[tls] crl_refresh_s``) when the file changed.
A file that cannot be read, does not parse, is not signed by the CA, is past its nextUpdate or is older than
the running CRL (a replayed CRL would un-revoke) is refused: the running CRL stays, never "no CRL".
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mlkem, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Re-exported under its old name: callers and tests take the fingerprint from the trust store's module.
from gateway.crypto.certificates import fingerprint as fingerprint
from gateway.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CrlInvalid,
    MalformedCertificate,
    UntrustedIssuer,
    WrongKeyUsage,
)

PARTICIPANT_URI_PREFIX = "urn:swg:participant:"
NODE_URI_PREFIX = "urn:swg:node:"


class Purpose(enum.Enum):
    SIGNING = "signing"  # participant signs envelopes and receipts
    ENCRYPTION = "encryption"  # participant's X25519 key that content keys are wrapped to
    TLS_CLIENT = "tls-client"  # participant application's mTLS client certificate
    NODE_TLS = "node-tls"  # node's TLS server/client certificate (peering)
    TOKEN_SIGNING = "token-signing"  # node's key for JWT bearer tokens and other node statements
    CA = "ca"  # the federation CA itself as a signer (e.g. of the signed directory)


_PARTICIPANT_PURPOSES = {Purpose.SIGNING, Purpose.ENCRYPTION, Purpose.TLS_CLIENT}
_NODE_PURPOSES = {Purpose.NODE_TLS, Purpose.TOKEN_SIGNING}


@dataclass(frozen=True)
class Identity:
    kind: str  # "participant" | "node"
    name: str


@functools.lru_cache(maxsize=4096)
def load_der(cert_der: bytes) -> x509.Certificate:
    """Parse a DER certificate once; parsing dominates a cached verification otherwise."""
    try:
        return x509.load_der_x509_certificate(cert_der)
    except ValueError as exc:
        raise MalformedCertificate(f"not a DER X.509 certificate: {exc}") from exc


def identity_of(cert: x509.Certificate) -> Identity:
    """The one participant or node a certificate names: SAN URI, which must equal the subject CN."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise MalformedCertificate(f"certificate has no usable subject alternative name: {exc}") from exc
    names: list[Identity] = []
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(PARTICIPANT_URI_PREFIX):
            names.append(Identity("participant", uri[len(PARTICIPANT_URI_PREFIX):]))
        elif uri.startswith(NODE_URI_PREFIX):
            names.append(Identity("node", uri[len(NODE_URI_PREFIX):]))
    if len(names) != 1:
        raise MalformedCertificate(f"certificate must name exactly one participant or node, names {len(names)}")
    if len(cns) != 1 or cns[0].value != names[0].name:
        raise MalformedCertificate("certificate subject CN does not match its urn:swg: name")
    return names[0]


def participant_of(cert: x509.Certificate) -> str:
    ident = identity_of(cert)
    if ident.kind != "participant":
        raise WrongKeyUsage(f"certificate names node {ident.name!r}, not a participant")
    return ident.name


def _utc(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.timezone.utc)
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return at


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise WrongKeyUsage("certificate has no key usage extension") from exc


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_purpose(cert: x509.Certificate, purpose: Purpose) -> None:
    ku = _key_usage(cert)
    key = cert.public_key()
    eku = _eku(cert)
    signing_key = isinstance(key, ed25519.Ed25519PublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    )
    if purpose is Purpose.SIGNING:
        ok = signing_key and ku.digital_signature and ku.content_commitment and not ku.key_agreement and not eku
    elif purpose is Purpose.ENCRYPTION:
        ok = isinstance(key, x25519.X25519PublicKey) and ku.key_agreement and not ku.digital_signature
    elif purpose is Purpose.TLS_CLIENT:
        ok = signing_key and ku.digital_signature and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    elif purpose is Purpose.NODE_TLS:
        ok = (
            signing_key
            and ku.digital_signature
            and {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= eku
        )
    elif purpose is Purpose.TOKEN_SIGNING:
        ok = (
            isinstance(key, ec.EllipticCurvePublicKey)
            and signing_key
            and ku.digital_signature
            and not ku.content_commitment
            and not eku
        )
    else:
        ok = ku.key_cert_sign
    if not ok:
        raise WrongKeyUsage(f"certificate key type or usage does not allow {purpose.value}")
    if _is_ca(cert) and purpose is not Purpose.CA:
        raise WrongKeyUsage("a CA certificate cannot be used as a leaf")


@dataclass(frozen=True)
class CrlRefresh:
    """What a look at the CRL file found: a new CRL now in force, or a file refused (the old CRL stays)."""

    loaded: bool
    sha256: str
    revoked: int = 0
    reason: str = ""


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1, -1)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class _Cached:
    name: str
    not_before: dt.datetime
    not_after: dt.datetime


class TrustStore:
    """Verifies leaf certificates against the federation CA and its CRL."""

    def __init__(self, ca_cert: x509.Certificate, crl: x509.CertificateRevocationList | None = None):
        if not _is_ca(ca_cert):
            raise MalformedCertificate("trust anchor is not a CA certificate")
        try:
            ca_cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise MalformedCertificate(f"trust anchor is not a valid self-signed CA: {exc}") from exc
        self.ca_cert = ca_cert
        self.ca_der = ca_cert.public_bytes(Encoding.DER)
        self.ca_fingerprint = fingerprint(self.ca_der)
        self._lock = threading.Lock()
        self._cache: dict[tuple[bytes, Purpose], _Cached] = {}
        self._crl: x509.CertificateRevocationList | None = None
        self._revoked: frozenset[int] = frozenset()
        # Bumped by every CRL change: a check that started under an older CRL does not fill the cache.
        self._generation = 0
        # The CRL file this store follows (from_files), the stamp of the file last looked at, the SHA-256 of
        # the bytes in force, and why the file on disk was refused ("" when it is the CRL in force).
        self.crl_path: Path | None = None
        self._crl_stamp: tuple[int, int, int] = (-1, -1, -1)
        self.crl_sha256 = ""
        self.crl_refused = ""
        if crl is not None:
            self.set_crl(crl)

    @classmethod
    def from_files(cls, ca_path: Path | str, crl_path: Path | str | None = None) -> TrustStore:
        ca = x509.load_pem_x509_certificate(Path(ca_path).read_bytes())
        store = cls(ca)
        if crl_path is not None:
            store.crl_path = Path(crl_path)
            store._crl_stamp = _stamp(store.crl_path)
            store.reload_crl(crl_path)
        return store

    # --- CRL ----------------------------------------------------------------------------------

    @property
    def crl(self) -> x509.CertificateRevocationList | None:
        return self._crl

    def set_crl(self, crl: x509.CertificateRevocationList) -> None:
        ca_key = self.ca_cert.public_key()
        # A CA key that cannot sign (X25519, X448, ML-KEM) cannot have signed this CRL either.
        if isinstance(ca_key, (x25519.X25519PublicKey, x448.X448PublicKey, mlkem.MLKEM768PublicKey,
                               mlkem.MLKEM1024PublicKey)):
            raise CrlInvalid("the federation CA key cannot sign a CRL")
        if crl.issuer != self.ca_cert.subject or not crl.is_signature_valid(ca_key):
            raise CrlInvalid("CRL is not signed by the federation CA")
        with self._lock:
            self._crl = crl
            self._revoked = frozenset(entry.serial_number for entry in crl)
            self._generation += 1
            self._cache.clear()

    def reload_crl(self, crl_path: Path | str) -> None:
        data = Path(crl_path).read_bytes()
        self.set_crl(x509.load_pem_x509_crl(data))
        self.crl_sha256 = hashlib.sha256(data).hexdigest()
        self.crl_refused = ""

    def refresh_crl(self, at: dt.datetime | None = None) -> CrlRefresh | None:
        """Look at the CRL file again; None when nothing changed since the last look.

        A changed file is read once. A CRL that the CA signed, that is not past its nextUpdate and not older
        than the running one (thisUpdate) replaces it and empties the cache; anything else is refused with
        the reason, the running CRL stays, and the same file is not read again until it changes.
        """
        path = self.crl_path
        if path is None:
            return None
        stamp = _stamp(path)
        if stamp == self._crl_stamp:
            return None
        self._crl_stamp = stamp
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self._refused("", f"cannot read {path}: {exc.strerror or exc}")
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 == self.crl_sha256:  # touched or rewritten with the same bytes
            self.crl_refused = ""
            return None
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError as exc:
            return self._refused(sha256, f"{path} is not a PEM CRL: {exc}")
        now = _utc(at)
        running = self._crl
        try:
            if crl.next_update_utc is not None and now > crl.next_update_utc:
                raise CrlInvalid(f"CRL is past its nextUpdate ({crl.next_update_utc.isoformat()})")
            if running is not None and crl.last_update_utc < running.last_update_utc:
                raise CrlInvalid(f"CRL of {crl.last_update_utc.isoformat()} is older than the running one of "
                                 f"{running.last_update_utc.isoformat()} (a replayed CRL would un-revoke)")
            self.set_crl(crl)
        except CrlInvalid as err:
            return self._refused(sha256, err.message)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # undecodable signature or extensions
            return self._refused(sha256, f"CRL unreadable: {exc}")
        self.crl_sha256 = sha256
        self.crl_refused = ""
        return CrlRefresh(True, sha256, revoked=len(self._revoked))

    def _refused(self, sha256: str, reason: str) -> CrlRefresh:
        self.crl_refused = reason
        return CrlRefresh(False, sha256, revoked=len(self._revoked), reason=reason)

    # --- verification ---------------------------------------------------------------------------

    def verify(self, cert: x509.Certificate | bytes, purpose: Purpose, at: dt.datetime | None = None) -> str:
        """Return the participant id (or node name) the certificate names, or raise a TrustError."""
        if isinstance(cert, (bytes, bytearray)):
            der = bytes(cert)
            cert = load_der(der)
        else:
            der = cert.public_bytes(Encoding.DER)
        now = _utc(at)
        key = (fingerprint(der), purpose)
        hit = self._cache.get(key)
        if hit is not None and hit.not_before <= now <= hit.not_after:
            self._check_crl_fresh(now)
            return hit.name
        generation = self._generation
        name = self._verify_uncached(cert, der, purpose, now)
        with self._lock:
            if generation == self._generation:
                self._cache[key] = _Cached(name, cert.not_valid_before_utc, cert.not_valid_after_utc)
        return name

    def _check_crl_fresh(self, now: dt.datetime) -> None:
        crl = self._crl
        if crl is not None and crl.next_update_utc is not None and now > crl.next_update_utc:
            raise CrlInvalid(f"CRL is stale (nextUpdate {crl.next_update_utc.isoformat()})")

    def _verify_uncached(self, cert: x509.Certificate, der: bytes, purpose: Purpose, now: dt.datetime) -> str:
        if purpose is Purpose.CA:
            if der != self.ca_der:
                raise UntrustedIssuer("certificate is not the federation CA")
        else:
            try:
                cert.verify_directly_issued_by(self.ca_cert)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
                raise UntrustedIssuer(f"certificate was not issued by the federation CA: {exc}") from exc
        if now < cert.not_valid_before_utc:
            raise CertificateNotYetValid(f"certificate not valid before {cert.not_valid_before_utc.isoformat()}")
        if now > cert.not_valid_after_utc:
            raise CertificateExpired(f"certificate expired at {cert.not_valid_after_utc.isoformat()}")
        self._check_crl_fresh(now)
        if cert.serial_number in self._revoked:
            raise CertificateRevoked(f"certificate serial {cert.serial_number:x} is revoked")
        try:
            _check_purpose(cert, purpose)
            if purpose is Purpose.CA:
                return "ca"
            ident = identity_of(cert)
        except (ValueError, UnsupportedAlgorithm) as exc:  # undecodable key or extensions
            raise MalformedCertificate(f"certificate unreadable: {exc}") from exc
        if purpose in _PARTICIPANT_PURPOSES and ident.kind != "participant":
            raise WrongKeyUsage(f"{purpose.value} needs a participant certificate, got node {ident.name!r}")
        if purpose in _NODE_PURPOSES and ident.kind != "node":
            raise WrongKeyUsage(f"{purpose.value} needs a node certificate, got participant {ident.name!r}")
        return ident.name

    def cache_size(self) -> int:
        return len(self._cache)


def certificate_file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of the DER of a PEM certificate file: the fingerprint the audit log records."""
    return fingerprint(x509.load_pem_x509_certificate(Path(path).read_bytes())).hex()
