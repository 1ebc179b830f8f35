"""`gateway pki init` makes a federation PKI in the fixed layout; revoke() maintains the CRL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.crypto import pki
from gateway.cli import main
from gateway.errors import InvalidArgument
from gateway.crypto.trust import Purpose, TrustStore

ROOT = Path(__file__).resolve().parents[3]
FILES = ["README.txt", "ca/ca.crt", "ca/ca.key", "ca/crl.pem"] + [
    f"nodes/{n}/{f}" for n in ("de-node", "fr-node") for f in ("tls.crt", "tls.key", "token.crt", "token.key")
] + [
    f"participants/{s}/{k}.{e}"
    for s in ("de-customs-main", "de-post-main", "de-tax-main", "fr-customs-main", "fr-post-main")
    for k in ("signing", "encryption", "client")
    for e in ("crt", "key")
] + [  # hybrid-pq keys: no X.509 for ML-DSA / ML-KEM, the directory pins the .pub files
    f"participants/{s}/pq-{k}.{e}"
    for s in ("de-customs-main", "de-post-main", "de-tax-main", "fr-customs-main", "fr-post-main")
    for k in ("signing", "encryption")
    for e in ("pub", "key")
]


def _ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls).value


def test_init_writes_the_example_federation_layout_with_progress(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pki"
    assert main(["pki", "init", "--out", str(out)]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(FILES)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 1 + 2 * 2 + 5 * 3  # one line per generated item
    assert "DEMO ONLY - never use in production" in (out / "README.txt").read_text()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pki"
    assert main(["pki", "init", "--out", str(out), "--participant", "DE/POST/MAIN"]) == 0
    before = (out / "ca" / "ca.crt").read_bytes()
    assert main(["pki", "init", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "ca" / "ca.crt").read_bytes() == before
    assert main(["pki", "init", "--out", str(out), "--force"]) == 0
    assert (out / "ca" / "ca.crt").read_bytes() != before


def test_force_never_wipes_a_directory_that_is_not_a_pki(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidArgument):
        pki.generate_federation(tmp_path, force=True)
    assert (tmp_path / "precious.txt").exists()


@pytest.mark.parametrize("bad", ["de/post/main", "DE/POST", "DEU/POST/MAIN", "DE/POST/MAIN/X", "DE/P0ST/MAIN"])
def test_participant_ids_are_validated(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        pki.generate_federation(tmp_path / "x", participants=[bad])
    assert not (tmp_path / "x").exists()


def test_slug() -> None:
    assert pki.participant_slug("DE/POST/MAIN") == "de-post-main"
    assert pki.participant_slug("FR/CUSTOMS/A_1-2") == "fr-customs-a_1-2"


def test_certificates_carry_names_usages_and_key_types(tmp_path: Path) -> None:
    paths = pki.generate_federation(tmp_path / "p", ["de-node"], ["DE/POST/MAIN"], signing_algorithm="ed25519")
    ca = pki.load_cert(paths.ca_cert)
    assert _ext(ca, x509.BasicConstraints).ca and isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert list(x509.load_pem_x509_crl(paths.crl.read_bytes())) == []

    part = paths.participants["DE/POST/MAIN"]
    signing = pki.load_cert(part.signing_cert)
    assert isinstance(signing.public_key(), ed25519.Ed25519PublicKey)
    ku = _ext(signing, x509.KeyUsage)
    assert ku.digital_signature and ku.content_commitment and not ku.key_agreement
    assert signing.subject.rfc4514_string() == "CN=DE/POST/MAIN"
    assert _ext(signing, x509.SubjectAlternativeName).get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:swg:participant:DE/POST/MAIN"
    ]
    enc = pki.load_cert(part.encryption_cert)
    ku = _ext(enc, x509.KeyUsage)
    assert isinstance(enc.public_key(), x25519.X25519PublicKey)
    assert ku.key_agreement and not ku.digital_signature and not ku.content_commitment
    client = pki.load_cert(part.client_cert)
    assert list(_ext(client, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    node = paths.nodes["de-node"]
    tls = pki.load_cert(node.tls_cert)
    san = _ext(tls, x509.SubjectAlternativeName)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:swg:node:de-node"]
    assert set(_ext(tls, x509.ExtendedKeyUsage)) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    token = pki.load_cert(node.token_cert)
    assert isinstance(token.public_key(), ec.EllipticCurvePublicKey) and _ext(token, x509.KeyUsage).digital_signature

    for key_path in (part.signing_key, part.encryption_key, node.tls_key, paths.ca_key):
        assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted


def test_revoke_adds_the_certificate_to_a_re_signed_crl(tmp_path: Path) -> None:
    paths = pki.generate_federation(tmp_path / "p", ["de-node"], ["DE/POST/MAIN", "DE/TAX/MAIN"])
    target = paths.participants["DE/POST/MAIN"].signing_cert
    pki.revoke(paths.ca_dir, target)
    pki.revoke(paths.ca_dir, target)  # idempotent
    crl = x509.load_pem_x509_crl(paths.crl.read_bytes())
    assert [e.serial_number for e in crl] == [pki.load_cert(target).serial_number]
    assert crl.is_signature_valid(pki.load_cert(paths.ca_cert).public_key())


def test_revoke_refuses_a_certificate_of_another_ca(tmp_path: Path) -> None:
    a = pki.generate_federation(tmp_path / "a", ["de-node"], ["DE/POST/MAIN"])
    b = pki.generate_federation(tmp_path / "b", ["de-node"], ["DE/POST/MAIN"])
    with pytest.raises(InvalidArgument):
        pki.revoke(a.ca_dir, b.participants["DE/POST/MAIN"].signing_cert)


def test_issue_certificate_honours_odd_validity_for_tests() -> None:
    ca = pki.create_ca()
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    cert = pki.issue_certificate(ca, pki.new_key().public_key(), profile=pki.Profile.SIGNING,
                                 participant="DE/POST/MAIN", not_before=start, days=1)
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + dt.timedelta(days=1)


def test_committed_certs_example_is_a_consistent_demo_federation() -> None:
    out = ROOT / "certs-example"
    assert "DEMO ONLY" in (out / "README.txt").read_text()
    paths = pki.FederationPaths.of(out, pki.DEFAULT_NODES, pki.DEFAULT_PARTICIPANTS)
    trust = TrustStore.from_files(paths.ca_cert, paths.crl)
    ca = pki.load_cert(paths.ca_cert)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3650)
    for node, np_ in paths.nodes.items():
        assert trust.verify(pki.load_cert(np_.tls_cert), Purpose.NODE_TLS) == node
        assert trust.verify(pki.load_cert(np_.token_cert), Purpose.TOKEN_SIGNING) == node
    for participant, pp in paths.participants.items():
        assert trust.verify(pki.load_cert(pp.signing_cert), Purpose.SIGNING) == participant
        assert trust.verify(pki.load_cert(pp.encryption_cert), Purpose.ENCRYPTION) == participant
        assert trust.verify(pki.load_cert(pp.client_cert), Purpose.TLS_CLIENT) == participant
