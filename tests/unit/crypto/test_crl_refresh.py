"""A CRL file re-read while the trust store is in use, and what a new CRL does to the token checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.crypto import pki
from gateway.crypto.tokens import Authenticator, issue_token
from gateway.crypto.trust import Purpose, TrustStore
from gateway.errors import CertificateRevoked, Unauthenticated
from gateway.testing.federation import Federation, utcnow

P = "DE/POST/MAIN"


def _store(fed: Federation, tmp_path: Path) -> TrustStore:
    crl = pki.write_crl(tmp_path / "crl.pem", pki.create_crl(fed.ca))
    return TrustStore.from_files(fed.paths.ca_cert, crl)


def test_refresh_reads_a_changed_file_once_and_nothing_else(federation: Federation, tmp_path: Path) -> None:
    store = _store(federation, tmp_path)
    cert = pki.load_cert(federation.paths.participants[P].signing_cert)
    assert store.refresh_crl() is None  # unchanged since from_files
    assert store.verify(cert, Purpose.SIGNING) == P  # cached
    pki.write_crl(tmp_path / "crl.pem", pki.create_crl(federation.ca, [pki.revoked_entry(cert)]))
    outcome = store.refresh_crl()
    assert outcome is not None and outcome.loaded and outcome.revoked == 1
    with pytest.raises(CertificateRevoked):
        store.verify(cert, Purpose.SIGNING)
    assert store.refresh_crl() is None


def test_a_refused_file_is_reported_once_and_the_crl_in_force_stays(federation: Federation, tmp_path: Path) -> None:
    store = _store(federation, tmp_path)
    cert = pki.load_cert(federation.paths.participants[P].signing_cert)
    pki.write_crl(tmp_path / "crl.pem", pki.create_crl(federation.ca, [pki.revoked_entry(cert)]))
    assert store.refresh_crl() is not None
    older = pki.create_crl(federation.ca, now=utcnow() - dt.timedelta(hours=1))
    pki.write_crl(tmp_path / "crl.pem", older)
    outcome = store.refresh_crl()
    assert outcome is not None and not outcome.loaded and "older than the running one" in outcome.reason
    assert store.refresh_crl() is None  # the same refused file is not read again
    with pytest.raises(CertificateRevoked):
        store.verify(cert, Purpose.SIGNING)


def test_a_revoked_token_issuer_certificate_refuses_every_token(federation: Federation, tmp_path: Path) -> None:
    store = _store(federation, tmp_path)
    np = federation.paths.nodes["de-node"]
    pp = federation.paths.participants[P]
    auth = Authenticator(store, issuer="swg:de-node", audience="swg:de-node", token_certificate=np.token_cert,
                         max_lifetime_s=3600)
    client_pem = pp.client_cert.read_bytes()
    token = issue_token(signing_key_pem=np.token_key.read_bytes(), issuer="swg:de-node", audience="swg:de-node",
                        participant=P, scopes=["submit"], client_cert_pem=client_pem)
    metadata = [("authorization", f"Bearer {token}")]
    context = {"x509_pem_cert": [client_pem]}
    assert auth.authenticate("/swg.v1.Exchange/Submit", context, metadata) is not None  # token now cached

    revoked = pki.create_crl(federation.ca, [pki.revoked_entry(pki.load_cert(np.token_cert))])
    pki.write_crl(tmp_path / "crl.pem", revoked)
    assert store.refresh_crl() is not None
    assert "revoked" in auth.crl_reloaded()
    with pytest.raises(Unauthenticated, match="token issuer certificate is no longer trusted"):
        auth.authenticate("/swg.v1.Exchange/Submit", context, metadata)
