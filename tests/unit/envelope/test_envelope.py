"""seal/verify/open: only the addressed recipients read a message, and any change is detected."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway import envelope as env
from gateway.crypto import pki
from gateway.api.swg.v1.envelope_pb2 import Envelope, KeyWrap
from gateway.errors import (
    BadSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CommitmentMismatch,
    DecryptionFailed,
    EnvelopeError,
    MalformedEnvelope,
    NotARecipient,
    ReceiptMismatch,
    SenderMismatch,
    SignerNotTrusted,
    UntrustedIssuer,
    WrongKeyUsage,
)
from gateway.crypto.trust import Purpose
from gateway.testing.federation import PARTICIPANTS, Federation, header, other_ca, signer_with, utcnow

SENDER = "DE/POST/MAIN"
RECIPIENT = "DE/CUSTOMS/MAIN"
OUTSIDER = "FR/POST/MAIN"


def _seal(fed: Federation, payload: bytes = b"<item/>", recipients=(RECIPIENT,), sender=None) -> env.Sealed:
    keys = sender or fed.keys(SENDER)
    return env.seal(header(SENDER, recipients), payload, keys, fed.recipients(recipients))


def test_error_classes_map_to_grpc_codes() -> None:
    assert MalformedEnvelope.grpc_code == "INVALID_ARGUMENT"
    for cls in (BadSignature, SignerNotTrusted, SenderMismatch, NotARecipient, DecryptionFailed,
                CommitmentMismatch, ReceiptMismatch):
        assert issubclass(cls, EnvelopeError) and cls.grpc_code == "PERMISSION_DENIED"


@pytest.mark.parametrize("count", [1, 5])
def test_round_trip_to_every_recipient(federation: Federation, count: int) -> None:
    recipients = [p for p in PARTICIPANTS if p != SENDER][:count] if count < 5 else list(PARTICIPANTS)
    payload = os.urandom(2000)
    sealed = _seal(federation, payload, recipients)
    assert sealed.sha256 == hashlib.sha256(sealed.data).digest()
    assert list(sealed.header.recipients) == recipients
    for r in recipients:
        opened = env.open(sealed.data, federation.keys(r), federation.trust)
        assert (opened.payload, opened.signer, opened.sha256) == (payload, SENDER, sealed.sha256)
        assert hashlib.sha256(opened.salt + opened.payload).digest() == sealed.envelope.content_commitment
    verified = env.verify(sealed.data, federation.trust)
    assert verified.signer == SENDER and verified.header == sealed.header


def test_non_recipient_cannot_open(federation: Federation) -> None:
    sealed = _seal(federation)
    with pytest.raises(NotARecipient):
        env.open(sealed.data, federation.keys(OUTSIDER), federation.trust)


def test_recipient_with_another_encryption_certificate_is_not_a_recipient(federation: Federation) -> None:
    sealed = _seal(federation)
    real = federation.keys(RECIPIENT)
    key = pki.new_key("x25519")
    cert = pki.issue_certificate(federation.ca, key.public_key(), profile=pki.Profile.ENCRYPTION, participant=RECIPIENT)
    rekeyed = env.ParticipantKeys(RECIPIENT, real.signing_key, real.signing_cert, key, cert)  # type: ignore[arg-type]
    with pytest.raises(NotARecipient):
        env.open(sealed.data, rekeyed, federation.trust)


@pytest.mark.parametrize("kind,alg", [("ecdsa-p256", "ES256"), ("ed25519", "EdDSA")])
def test_p256_and_ed25519_signers(federation: Federation, kind: str, alg: str) -> None:
    sender = signer_with(federation, SENDER, kind=kind)
    sealed = _seal(federation, b"x", sender=sender)
    assert f'"alg":"{alg}"'.encode() in env._b64url_decode(sealed.envelope.signature.split(".")[0], "h")
    assert env.open(sealed.data, federation.keys(RECIPIENT), federation.trust).payload == b"x"


def test_flipping_any_byte_makes_open_fail(federation: Federation) -> None:
    sealed = _seal(federation, b"tiny", recipients=(RECIPIENT, "DE/TAX/MAIN"))
    recipient = federation.keys(RECIPIENT)
    env.open(sealed.data, recipient, federation.trust)
    survivors = []
    for i in range(len(sealed.data)):
        for mask in (0x01, 0x80):  # low bit catches lenient base64; high bit breaks varints and UTF-8
            tampered = bytearray(sealed.data)
            tampered[i] ^= mask
            try:
                env.open(bytes(tampered), recipient, federation.trust)
            except EnvelopeError:
                continue
            survivors.append((i, mask))
    assert survivors == []


def _signed_by(fed: Federation, sender: env.ParticipantKeys) -> bytes:
    return _seal(fed, sender=sender).data


def _expect_untrusted(fed: Federation, data: bytes, cause: type, trust=None) -> None:
    store = trust or fed.trust
    for check in (lambda: env.verify(data, store), lambda: env.open(data, fed.keys(RECIPIENT), store)):
        with pytest.raises(SignerNotTrusted) as info:
            check()
        assert type(info.value.cause) is cause


def test_signer_from_another_ca(federation: Federation) -> None:
    _expect_untrusted(federation, _signed_by(federation, signer_with(federation, SENDER, ca=other_ca())), UntrustedIssuer)


def test_expired_and_not_yet_valid_signers(federation: Federation) -> None:
    now = utcnow()
    expired = signer_with(federation, SENDER, not_before=now - dt.timedelta(days=9), not_after=now - dt.timedelta(days=1))
    future = signer_with(federation, SENDER, not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=9))
    _expect_untrusted(federation, _signed_by(federation, expired), CertificateExpired)
    _expect_untrusted(federation, _signed_by(federation, future), CertificateNotYetValid)
    # verify(at=...) judges the signer at another instant, e.g. when the envelope was received.
    assert env.verify(_signed_by(federation, expired), federation.trust, at=now - dt.timedelta(days=2)).signer == SENDER


def test_revoked_signer(federation: Federation) -> None:
    sender = signer_with(federation, SENDER)
    _expect_untrusted(federation, _signed_by(federation, sender), CertificateRevoked,
                      trust=federation.trust_with_crl([sender.signing_cert]))


def test_tls_client_certificate_cannot_sign(federation: Federation) -> None:
    sender = signer_with(federation, SENDER, profile=pki.Profile.TLS_CLIENT)
    _expect_untrusted(federation, _signed_by(federation, sender), WrongKeyUsage)


def test_encryption_usage_certificate_cannot_sign(federation: Federation) -> None:
    key_agreement_only = pki.key_usage_for(pki.Profile.ENCRYPTION)
    sender = signer_with(federation, SENDER, key_usage=key_agreement_only)
    _expect_untrusted(federation, _signed_by(federation, sender), WrongKeyUsage)


def test_certificate_of_another_participant_cannot_sign_as_sender(federation: Federation) -> None:
    data = _signed_by(federation, signer_with(federation, SENDER, cert_participant="DE/TAX/MAIN"))
    with pytest.raises(SenderMismatch):
        env.verify(data, federation.trust)
    with pytest.raises(SenderMismatch):
        env.open(data, federation.keys(RECIPIENT), federation.trust)


def test_seal_refuses_a_header_that_does_not_match_sender_or_recipients(federation: Federation) -> None:
    with pytest.raises(SenderMismatch):
        env.seal(header("DE/TAX/MAIN", [RECIPIENT]), b"x", federation.keys(SENDER), federation.recipients([RECIPIENT]))
    with pytest.raises(Exception, match="recipients"):
        env.seal(header(SENDER, [OUTSIDER]), b"x", federation.keys(SENDER), federation.recipients([RECIPIENT]))


# --- one ciphertext, one plaintext -----------------------------------------------------------------


def _malicious(fed: Federation, *, key_for: dict[str, bytes], encrypt_key: bytes, plaintext: bytes,
               committed: bytes) -> bytes:
    """An envelope correctly signed by the sender, but built to give recipients different content."""
    h = header(SENDER, list(key_for))
    hb = h.SerializeToString(deterministic=True)
    nonce = os.urandom(12)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    wraps = []
    for participant, key in key_for.items():
        r = fed.recipient(participant)
        wraps.append(KeyWrap(recipient=participant, certificate_sha256=r.sha256,
                             wrapped_key=suite.encrypt(key, r.public_key, info=hashlib.sha256(hb).digest())))
    e = Envelope(header=hb, nonce=nonce, ciphertext=AESGCM(encrypt_key).encrypt(nonce, plaintext, hb),
                 key_wraps=wraps, content_commitment=hashlib.sha256(committed).digest())
    return env.sign_envelope(e, fed.keys(SENDER)).data


def test_a_different_content_key_for_one_recipient_fails_for_that_recipient(federation: Federation) -> None:
    k1, k2, salted = os.urandom(32), os.urandom(32), os.urandom(32) + b"payload"
    data = _malicious(federation, key_for={RECIPIENT: k1, "DE/TAX/MAIN": k2}, encrypt_key=k1,
                      plaintext=salted, committed=salted)
    assert env.open(data, federation.keys(RECIPIENT), federation.trust).payload == b"payload"
    with pytest.raises(DecryptionFailed):
        env.open(data, federation.keys("DE/TAX/MAIN"), federation.trust)


def test_plaintext_other_than_the_committed_one_is_refused(federation: Federation) -> None:
    k = os.urandom(32)
    salt = os.urandom(32)
    data = _malicious(federation, key_for={RECIPIENT: k}, encrypt_key=k, plaintext=salt + b"what B reads",
                      committed=salt + b"what A reads")
    env.verify(data, federation.trust)  # the signature is fine: only decryption reveals the lie
    with pytest.raises(CommitmentMismatch):
        env.open(data, federation.keys(RECIPIENT), federation.trust)


# --- strict parsing -----------------------------------------------------------------------------------


def test_unknown_fields_and_non_canonical_encodings_are_rejected(federation: Federation) -> None:
    data = _seal(federation).data
    with pytest.raises(MalformedEnvelope):
        env.verify(data + b"\x78\x01", federation.trust)  # unknown field 15, varint 1
    with pytest.raises(MalformedEnvelope):
        env.verify(b"\xff" + data, federation.trust)


def test_only_es256_and_eddsa_are_accepted(federation: Federation) -> None:
    sealed = _seal(federation)
    e = Envelope.FromString(sealed.data)
    h, p, s = e.signature.split(".")
    hs256 = env.b64url(b'{"alg":"HS256","typ":"swg-envelope+jws","x5c":[]}')
    e.signature = ".".join((hs256, p, s))
    with pytest.raises(BadSignature):
        env.verify(e.SerializeToString(deterministic=True), federation.trust)
    e.signature = ".".join((h, p, ""))
    with pytest.raises(BadSignature):
        env.verify(e.SerializeToString(deterministic=True), federation.trust)


def test_manifest_is_what_is_signed(federation: Federation) -> None:
    sealed = _seal(federation)
    payload = env._b64url_decode(sealed.envelope.signature.split(".")[1], "p")
    assert payload == env.manifest(sealed.envelope)


# --- receipts and generic JWS ------------------------------------------------------------------------


def test_receipt_round_trip_and_mismatch(federation: Federation) -> None:
    sealed = _seal(federation)
    when = utcnow().replace(microsecond=600000)
    receipt = env.issue_receipt(message_id=sealed.header.message_id, envelope_sha256=sealed.sha256,
                                recipient=federation.keys(RECIPIENT), issuing_node="de-node", at=when)
    assert receipt.received_at.seconds == int(when.timestamp()) and receipt.received_at.nanos == 0
    assert env.verify_receipt(receipt, federation.trust) == receipt
    assert env.verify_receipt(receipt.jws, federation.trust) == receipt
    forged = type(receipt)()
    forged.CopyFrom(receipt)
    forged.recipient = "DE/TAX/MAIN"
    with pytest.raises(ReceiptMismatch):
        env.verify_receipt(forged, federation.trust)
    with pytest.raises(MalformedEnvelope):
        env.verify_receipt(sealed.envelope.signature, federation.trust)  # an envelope JWS is not a receipt


def test_receipt_signed_by_someone_else_than_the_recipient(federation: Federation) -> None:
    impostor = signer_with(federation, RECIPIENT, cert_participant="DE/TAX/MAIN")
    receipt = env.issue_receipt(message_id="m", envelope_sha256=b"\0" * 32, recipient=impostor, issuing_node="de-node")
    with pytest.raises(SenderMismatch):
        env.verify_receipt(receipt.jws, federation.trust)


def test_node_token_key_signs_generic_statements(federation: Federation) -> None:
    node = federation.paths.nodes["de-node"]
    signer = env.Signer.from_files(node.token_key, node.token_cert)
    jws = signer.sign(b'{"checkpoint":1}', typ="swg-audit+jws")
    assert env.verify_jws(jws, federation.trust, Purpose.TOKEN_SIGNING, typ="swg-audit+jws") == (
        b'{"checkpoint":1}', "de-node")
    with pytest.raises(SignerNotTrusted):
        env.verify_jws(jws, federation.trust, Purpose.SIGNING)
    ca = env.Signer.from_files(federation.paths.ca_key, federation.paths.ca_cert)
    assert env.verify_jws(ca.sign(b"dir", typ="swg-directory+jws"), federation.trust, Purpose.CA)[1] == "ca"


def test_participant_keys_from_files_checks_names_and_key_pairs(federation: Federation) -> None:
    a, b = federation.paths.participants[SENDER], federation.paths.participants[RECIPIENT]
    with pytest.raises(Exception, match="names"):
        env.ParticipantKeys.from_files(SENDER, b.signing_key, b.signing_cert, a.encryption_key, a.encryption_cert)
    with pytest.raises(Exception, match="does not match"):
        env.ParticipantKeys.from_files(SENDER, b.signing_key, a.signing_cert, a.encryption_key, a.encryption_cert)


def test_non_canonical_base64url_in_the_signature_is_rejected(federation: Federation) -> None:
    # A 64-byte signature leaves 4 unused bits in its last base64url character; lenient decoders ignore
    # them, which would make the stored bytes malleable without touching the signature.
    sealed = _seal(federation)
    e = Envelope.FromString(sealed.data)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(e.signature[-1])
    e.signature = e.signature[:-1] + alphabet[last ^ 0x01]  # same decoded bytes, other text
    with pytest.raises(MalformedEnvelope):
        env.open(e.SerializeToString(deterministic=True), federation.keys(RECIPIENT), federation.trust)
