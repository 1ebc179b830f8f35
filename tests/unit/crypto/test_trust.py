"""TrustStore accepts exactly the certificates the federation CA issued for the purpose asked, now."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.crypto import pki
from gateway.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CrlInvalid,
    MalformedCertificate,
    TrustError,
    Unauthenticated,
    UntrustedIssuer,
    WrongKeyUsage,
)
from gateway.crypto.trust import Purpose, TrustStore, fingerprint, participant_of
from gateway.testing.federation import Federation, other_ca, utcnow

P = "DE/POST/MAIN"


def _cert(fed: Federation, participant: str, attr: str) -> x509.Certificate:
    return pki.load_cert(getattr(fed.paths.participants[participant], attr))


def _node_cert(fed: Federation, node: str, attr: str) -> x509.Certificate:
    return pki.load_cert(getattr(fed.paths.nodes[node], attr))


def _issue(fed: Federation, **kw) -> x509.Certificate:
    kw.setdefault("profile", pki.Profile.SIGNING)
    kw.setdefault("participant", P)
    ca = kw.pop("ca", fed.ca)
    return pki.issue_certificate(ca, pki.new_key(kw.pop("kind", "ecdsa-p256")).public_key(), **kw)


def test_trust_errors_are_unauthenticated() -> None:
    for cls in (UntrustedIssuer, CertificateExpired, CertificateNotYetValid, CertificateRevoked,
                WrongKeyUsage, MalformedCertificate, CrlInvalid):
        assert issubclass(cls, TrustError) and issubclass(cls, Unauthenticated)
        assert cls.grpc_code == "UNAUTHENTICATED"


def test_each_certificate_fits_its_purpose_and_no_other(federation: Federation) -> None:
    certs = {
        Purpose.SIGNING: (_cert(federation, P, "signing_cert"), P),
        Purpose.ENCRYPTION: (_cert(federation, P, "encryption_cert"), P),
        Purpose.TLS_CLIENT: (_cert(federation, P, "client_cert"), P),
        Purpose.NODE_TLS: (_node_cert(federation, "de-node", "tls_cert"), "de-node"),
        Purpose.TOKEN_SIGNING: (_node_cert(federation, "de-node", "token_cert"), "de-node"),
        Purpose.CA: (federation.ca.cert, "ca"),
    }
    for purpose, (cert, name) in certs.items():
        assert federation.trust.verify(cert, purpose) == name
        for other in Purpose:
            if other is not purpose:
                with pytest.raises((WrongKeyUsage, UntrustedIssuer)):
                    federation.trust.verify(cert, other)


def test_der_bytes_are_accepted_and_fingerprint_is_sha256_of_der(federation: Federation) -> None:
    cert = _cert(federation, P, "signing_cert")
    der = cert.public_bytes(serialization.Encoding.DER)
    assert federation.trust.verify(der, Purpose.SIGNING) == P
    assert fingerprint(der) == cert.fingerprint(cert.signature_hash_algorithm)  # both SHA-256
    assert participant_of(cert) == P


def test_certificate_of_another_ca_is_untrusted(federation: Federation) -> None:
    with pytest.raises(UntrustedIssuer):
        federation.trust.verify(_issue(federation, ca=other_ca()), Purpose.SIGNING)


def test_same_name_different_key_is_untrusted(federation: Federation) -> None:
    # An impostor CA with the federation CA's subject name: the issuer name matches, the signature does not.
    impostor = pki.create_ca(federation.ca.cert.subject.rfc4514_string()[3:])
    with pytest.raises(UntrustedIssuer):
        federation.trust.verify(_issue(federation, ca=impostor), Purpose.SIGNING)


def test_validity_window(federation: Federation) -> None:
    now = utcnow()
    expired = _issue(federation, not_before=now - dt.timedelta(days=10), not_after=now - dt.timedelta(days=1))
    future = _issue(federation, not_before=now + dt.timedelta(days=1), days=10)
    with pytest.raises(CertificateExpired):
        federation.trust.verify(expired, Purpose.SIGNING)
    with pytest.raises(CertificateNotYetValid):
        federation.trust.verify(future, Purpose.SIGNING)
    # `at` moves the check in time.
    assert federation.trust.verify(expired, Purpose.SIGNING, at=now - dt.timedelta(days=5)) == P
    assert federation.trust.verify(future, Purpose.SIGNING, at=now + dt.timedelta(days=2)) == P


def test_cached_verification_is_rechecked_outside_the_validity_window(federation: Federation) -> None:
    now = utcnow()
    cert = _issue(federation, not_before=now - dt.timedelta(days=1), days=2)
    assert federation.trust.verify(cert, Purpose.SIGNING, at=now) == P
    with pytest.raises(CertificateExpired):
        federation.trust.verify(cert, Purpose.SIGNING, at=now + dt.timedelta(days=3))


def test_revocation_and_crl_reload_clears_the_cache(federation: Federation, tmp_path) -> None:
    cert = _issue(federation)
    store = TrustStore(federation.ca.cert, pki.create_crl(federation.ca))
    assert store.verify(cert, Purpose.SIGNING) == P  # now cached
    crl_path = pki.write_crl(tmp_path / "crl.pem", pki.create_crl(federation.ca, [pki.revoked_entry(cert)]))
    store.reload_crl(crl_path)
    with pytest.raises(CertificateRevoked):
        store.verify(cert, Purpose.SIGNING)


def test_from_files_reads_ca_and_crl(federation: Federation, tmp_path) -> None:
    cert = _issue(federation)
    crl_path = pki.write_crl(tmp_path / "crl.pem", pki.create_crl(federation.ca, [pki.revoked_entry(cert)]))
    store = TrustStore.from_files(federation.paths.ca_cert, crl_path)
    with pytest.raises(CertificateRevoked):
        store.verify(cert, Purpose.SIGNING)


def test_crl_of_another_ca_is_refused(federation: Federation) -> None:
    store = TrustStore(federation.ca.cert)
    with pytest.raises(CrlInvalid):
        store.set_crl(pki.create_crl(other_ca()))


def test_stale_crl_fails_closed(federation: Federation) -> None:
    store = TrustStore(federation.ca.cert, pki.create_crl(federation.ca, days=1))
    cert = _cert(federation, P, "signing_cert")
    assert store.verify(cert, Purpose.SIGNING) == P
    with pytest.raises(CrlInvalid):
        store.verify(cert, Purpose.SIGNING, at=utcnow() + dt.timedelta(days=2))


def test_wrong_key_usage(federation: Federation) -> None:
    no_commitment = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    with pytest.raises(WrongKeyUsage):
        federation.trust.verify(_issue(federation, key_usage=no_commitment), Purpose.SIGNING)
    # A node certificate never speaks for a participant, whatever its usage.
    node_signing = _issue(federation, participant=None, node="de-node")
    with pytest.raises(WrongKeyUsage):
        federation.trust.verify(node_signing, Purpose.SIGNING)


def test_certificate_without_a_swg_name_is_malformed(federation: Federation) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = pki.new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, P)]))
        .issuer_name(federation.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utcnow() - dt.timedelta(hours=1))
        .not_valid_after(utcnow() + dt.timedelta(days=1))
        .add_extension(pki.key_usage_for(pki.Profile.SIGNING), critical=True)
        .sign(federation.ca.key, hashes.SHA256())
    )
    with pytest.raises(MalformedCertificate):
        federation.trust.verify(cert, Purpose.SIGNING)
