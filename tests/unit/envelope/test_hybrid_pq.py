"""hybrid-pq envelopes and receipts: HPKE MLKEM768_X25519 key wraps, composite (classic + ML-DSA-65)
signatures of which a verifier requires both halves, and the directory's transition window (no downgrade)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway import envelope as env
from gateway.api.swg.v1.envelope_pb2 import Envelope, EnvelopeHeader, Receipt
from gateway.crypto import composite
from gateway.envelope import kek as kek_mod
from gateway.errors import BadSignature, EnvelopeError, MalformedEnvelope, ProfileRefused
from gateway.testing.federation import PARTICIPANTS, Federation, header, utcnow

SENDER = "DE/POST/MAIN"
RECIPIENT = "DE/CUSTOMS/MAIN"
NOW = utcnow()
WINDOW = env.CryptoPolicy(env.HYBRID_PQ, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))


def _seal(fed: Federation, recipients: tuple[str, ...] = (RECIPIENT,), payload: bytes = b"<item/>",
          keks: env.KekRing | None = None) -> env.Sealed:
    return env.seal(header(SENDER, list(recipients)), payload, fed.keys(SENDER),
                    fed.recipients(recipients, hybrid=True), keks, profile=env.HYBRID_PQ)


@pytest.fixture(autouse=True)
def _fresh_kek_cache() -> None:
    kek_mod.OPENED_KEKS.clear()


@pytest.mark.parametrize("count", [1, 5])
def test_hybrid_round_trip_for_every_recipient(federation: Federation, count: int) -> None:
    recipients = tuple([RECIPIENT, *[p for p in PARTICIPANTS if p not in (RECIPIENT, SENDER)], SENDER][:count])
    assert len(recipients) == count
    sealed = _seal(federation, recipients, b"<item>RR123456785DE</item>", env.KekRing())
    assert sealed.header.crypto_profile == env.HYBRID_PQ
    for kw in sealed.envelope.key_wraps:
        # The KEK is sealed with the hybrid KEM: its encapsulated key is X-Wing's 1120 bytes, not X25519's 32.
        assert len(kw.sealed_kek) == 1120 + 32 + 16
        assert kw.pq_key_sha256 == federation.recipient(kw.recipient, hybrid=True).pq_sha256
    assert composite.SEPARATOR in sealed.envelope.signature
    for r in recipients:
        opened = env.open(sealed.data, federation.keys(r), federation.trust, pq_keys=federation, policy=WINDOW)
        assert opened.payload == b"<item>RR123456785DE</item>"
        assert opened.signer == SENDER


def test_a_recipient_without_its_ml_kem_key_cannot_open(federation: Federation) -> None:
    sealed = _seal(federation)
    keys = federation.keys(RECIPIENT)
    classic_only = env.ParticipantKeys(RECIPIENT, keys.signing_key, keys.signing_cert, keys.encryption_key,
                                       keys.encryption_cert)
    with pytest.raises(ProfileRefused):
        env.open(sealed.data, classic_only, federation.trust, pq_keys=federation)


def test_every_single_byte_flip_of_a_hybrid_envelope_is_refused(federation: Federation) -> None:
    sealed = _seal(federation)
    keys = federation.keys(RECIPIENT)
    assert env.open(sealed.data, keys, federation.trust, pq_keys=federation).payload == b"<item/>"
    accepted = []
    for i in range(len(sealed.data)):
        flipped = bytearray(sealed.data)
        flipped[i] ^= 0x01
        try:
            env.open(bytes(flipped), keys, federation.trust, pq_keys=federation)
        except EnvelopeError:
            continue
        accepted.append(i)
    assert accepted == []


def _with_signature(sealed: env.Sealed, signature: str) -> bytes:
    e = Envelope()
    e.CopyFrom(sealed.envelope)
    e.signature = signature
    return e.SerializeToString(deterministic=True)


def test_an_envelope_stripped_of_its_ml_dsa_half_is_refused(federation: Federation) -> None:
    sealed = _seal(federation)
    classic_half, _pq = sealed.envelope.signature.split(composite.SEPARATOR)
    with pytest.raises(BadSignature, match="no ML-DSA-65 half"):
        env.verify(_with_signature(sealed, classic_half), federation.trust, pq_keys=federation)


def test_an_envelope_stripped_of_its_classic_half_is_refused(federation: Federation) -> None:
    sealed = _seal(federation)
    _classic, pq_half = sealed.envelope.signature.split(composite.SEPARATOR)
    for forged in (pq_half, composite.SEPARATOR + pq_half, "a.b.c" + composite.SEPARATOR + pq_half):
        with pytest.raises(EnvelopeError):
            env.verify(_with_signature(sealed, forged), federation.trust, pq_keys=federation)


def test_an_ml_dsa_half_by_another_key_is_refused(federation: Federation) -> None:
    sealed = _seal(federation)
    classic_half, _pq = sealed.envelope.signature.split(composite.SEPARATOR)
    other = composite.compose(classic_half, mldsa.MLDSA65PrivateKey.generate())
    with pytest.raises(BadSignature, match="does not verify"):
        env.verify(_with_signature(sealed, other), federation.trust, pq_keys=federation)


def test_a_hybrid_envelope_needs_the_ml_dsa_key_the_directory_binds(federation: Federation) -> None:
    sealed = _seal(federation)
    with pytest.raises(BadSignature, match="binds none"):
        env.verify(sealed.data, federation.trust)

    class Impostor:
        def pq_signing_key(self, participant: str) -> mldsa.MLDSA65PublicKey:
            return mldsa.MLDSA65PrivateKey.generate().public_key()

    with pytest.raises(BadSignature, match="not .*in the directory"):
        env.verify(sealed.data, federation.trust, pq_keys=Impostor())


def test_a_hybrid_envelope_relabelled_classic_is_refused(federation: Federation) -> None:
    sealed = _seal(federation)
    h = EnvelopeHeader.FromString(sealed.envelope.header)
    h.crypto_profile = ""
    e = Envelope()
    e.CopyFrom(sealed.envelope)
    e.header = h.SerializeToString(deterministic=True)
    with pytest.raises(MalformedEnvelope, match="crypto profiles"):
        env.verify(e.SerializeToString(deterministic=True), federation.trust, pq_keys=federation)


def test_the_transition_window_accepts_both_then_refuses_classic(federation: Federation) -> None:
    classic = env.seal(header(SENDER, [RECIPIENT]), b"<item/>", federation.keys(SENDER),
                       federation.recipients([RECIPIENT]))
    hybrid = _seal(federation)
    keys = federation.keys(RECIPIENT)
    closed = env.CryptoPolicy(env.HYBRID_PQ, NOW - dt.timedelta(days=2), NOW - dt.timedelta(seconds=1))
    for data in (classic.data, hybrid.data):
        env.open(data, keys, federation.trust, pq_keys=federation, policy=WINDOW)
    env.open(hybrid.data, keys, federation.trust, pq_keys=federation, policy=closed)
    with pytest.raises(ProfileRefused, match="accepts only hybrid-pq"):
        env.verify(classic.data, federation.trust, policy=closed)
    # Without a window hybrid-pq is hybrid only at once.
    with pytest.raises(ProfileRefused):
        env.verify(classic.data, federation.trust, policy=env.CryptoPolicy(env.HYBRID_PQ))


def test_policy_phases_and_sealing_profile() -> None:
    assert WINDOW.phase(NOW - dt.timedelta(days=2)) is env.Phase.CLASSIC
    assert WINDOW.phase(NOW) is env.Phase.TRANSITION
    assert WINDOW.phase(NOW + dt.timedelta(days=2)) is env.Phase.HYBRID
    assert WINDOW.sealing_profile(announced=False, at=NOW) == env.CLASSIC
    assert WINDOW.sealing_profile(announced=True, at=NOW) == env.HYBRID_PQ
    assert WINDOW.sealing_profile(announced=True, at=NOW - dt.timedelta(days=2)) == env.CLASSIC
    assert env.CryptoPolicy().sealing_profile(announced=True) == env.CLASSIC
    assert not WINDOW.accepts(env.CLASSIC, NOW + dt.timedelta(days=2))


def _receipt(fed: Federation, profile: str) -> Receipt:
    sealed = _seal(fed)
    return env.issue_receipt(message_id=sealed.header.message_id, envelope_sha256=sealed.sha256,
                             recipient=fed.keys(RECIPIENT), issuing_node="de-node", profile=profile)


def test_hybrid_receipt_verifies_and_needs_both_halves(federation: Federation) -> None:
    rc = _receipt(federation, env.HYBRID_PQ)
    assert env.verify_receipt(rc, federation.trust, pq_keys=federation).recipient == RECIPIENT
    classic_half, pq_half = rc.jws.split(composite.SEPARATOR)
    with pytest.raises(BadSignature, match="no ML-DSA-65 half"):
        env.verify_receipt(classic_half, federation.trust, pq_keys=federation)
    with pytest.raises(EnvelopeError):
        env.verify_receipt(pq_half, federation.trust, pq_keys=federation)
    with pytest.raises(BadSignature, match="does not verify"):
        env.verify_receipt(composite.compose(classic_half, mldsa.MLDSA65PrivateKey.generate()), federation.trust,
                           pq_keys=federation)


def test_classic_receipt_refused_after_the_window(federation: Federation) -> None:
    rc = _receipt(federation, env.CLASSIC)
    closed = env.CryptoPolicy(env.HYBRID_PQ, utcnow() - dt.timedelta(days=2), utcnow() - dt.timedelta(days=1))
    assert env.verify_receipt(rc, federation.trust).recipient == RECIPIENT
    with pytest.raises(ProfileRefused):
        env.verify_receipt(rc, federation.trust, policy=closed)
    # A hybrid receipt is still taken.
    env.verify_receipt(_receipt(federation, env.HYBRID_PQ), federation.trust, pq_keys=federation, policy=closed)


def test_gateway_evidence_verify_checks_a_hybrid_envelope_with_the_signed_directory(
        federation: Federation, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from gateway.cli import main
    from gateway.testing.nodes import write_directory

    directory = write_directory(federation, tmp_path, {"de-node": 50051, "fr-node": 50052})
    sealed = _seal(federation)
    path = tmp_path / "envelope.bin"
    path.write_bytes(sealed.data)
    ca = str(federation.paths.ca_cert)
    assert main(["evidence", "verify", str(path), "--ca", ca]) == 1
    assert "binds none" in capsys.readouterr().out
    assert main(["evidence", "verify", str(path), "--ca", ca, "--directory", str(directory)]) == 0
    assert f"{SENDER} signed message" in capsys.readouterr().out
    # A directory the CA did not sign binds nothing.
    directory.write_text(directory.read_text() + "\n# edited\n")
    assert main(["evidence", "verify", str(path), "--ca", ca, "--directory", str(directory)]) == 1
    assert "INVALID" in capsys.readouterr().out
