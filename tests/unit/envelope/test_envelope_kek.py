"""Key wraps under a rotated key-encryption key (KEK): shared within a window, never across envelopes,
recipients, senders or certificates; the older direct form still opens (docs/evidence.md, "Key wraps")."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway import envelope as env
from gateway.envelope import kek
from gateway.crypto import pki
from gateway.api.swg.v1.envelope_pb2 import Envelope, EnvelopeHeader, KeyWrap
from gateway.errors import BadSignature, ConfigError, DecryptionFailed, EnvelopeError, MalformedEnvelope
from gateway.testing.federation import Federation, header

SENDER = "DE/POST/MAIN"
CUSTOMS = "DE/CUSTOMS/MAIN"
TAX = "DE/TAX/MAIN"
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _empty_kek_cache() -> None:
    env._OPENED_KEKS.clear()


def _seal(fed: Federation, ring: env.KekRing | None, recipients=(CUSTOMS, TAX), sender: str = SENDER,
          payload: bytes = b"<item/>") -> env.Sealed:
    return env.seal(header(sender, recipients), payload, fed.keys(sender), fed.recipients(recipients), ring)


def _kek_of(fed: Federation, wrap: KeyWrap, sender: str = SENDER) -> bytes:
    """Open a sealed KEK as docs/evidence.md specifies, with the recipient's private key."""
    return SUITE.decrypt(wrap.sealed_kek, fed.keys(wrap.recipient).encryption_key, info=b"swg-kek-v1:" + sender.encode())


def _aad(envelope: Envelope, wrap: KeyWrap) -> bytes:
    return (b"swg-cek-v1:" + hashlib.sha256(envelope.header).digest() + wrap.certificate_sha256
            + wrap.recipient.encode())


def _content_key(fed: Federation, envelope: Envelope, wrap: KeyWrap) -> bytes:
    kek = _kek_of(fed, wrap, EnvelopeHeader.FromString(envelope.header).sender)
    return AESGCM(kek).decrypt(wrap.wrapped_key[:12], wrap.wrapped_key[12:], _aad(envelope, wrap))


def _wrap(sealed: env.Sealed, recipient: str) -> KeyWrap:
    return next(kw for kw in sealed.envelope.key_wraps if kw.recipient == recipient)


def test_envelopes_of_one_window_share_the_sealed_kek_but_not_the_content_key(federation: Federation) -> None:
    ring = env.KekRing(max_messages=1000, max_age_s=300)
    first, second = _seal(federation, ring, payload=b"first"), _seal(federation, ring, payload=b"second")
    for r in (CUSTOMS, TAX):
        a, b = _wrap(first, r), _wrap(second, r)
        assert a.sealed_kek == b.sealed_kek and len(a.sealed_kek) == 80
        assert a.wrapped_key != b.wrapped_key and len(a.wrapped_key) == 60
        key_a, key_b = _content_key(federation, first.envelope, a), _content_key(federation, second.envelope, b)
        assert key_a != key_b
        assert AESGCM(key_a).decrypt(first.envelope.nonce, first.envelope.ciphertext, first.envelope.header)[32:] == b"first"
    assert _wrap(first, CUSTOMS).sealed_kek != _wrap(first, TAX).sealed_kek  # one KEK per recipient
    for sealed, payload in ((first, b"first"), (second, b"second")):
        for r in (CUSTOMS, TAX):
            assert env.open(sealed.data, federation.keys(r), federation.trust).payload == payload


def test_the_kek_is_rotated_after_max_messages(federation: Federation) -> None:
    ring = env.KekRing(max_messages=3, max_age_s=300)
    blobs = [_wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek for _ in range(7)]
    assert blobs[0] == blobs[1] == blobs[2] != blobs[3]
    assert blobs[3] == blobs[4] == blobs[5] != blobs[6]


def test_the_kek_is_rotated_after_max_age(federation: Federation) -> None:
    clock = Clock()
    ring = env.KekRing(max_messages=1000, max_age_s=10, clock=clock)
    first = _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek
    clock.now += 9.9
    assert _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek == first
    clock.now += 0.1
    rotated = _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek
    assert rotated != first
    clock.now += 5
    assert _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek == rotated


@pytest.mark.parametrize("max_messages,max_age_s", [(0, 300), (1, 300), (1000, 0)])
def test_zero_or_one_message_or_zero_seconds_gives_a_fresh_kek_per_message(
        federation: Federation, max_messages: int, max_age_s: float) -> None:
    ring = env.KekRing(max_messages=max_messages, max_age_s=max_age_s)
    blobs = {_wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek for _ in range(3)}
    assert len(blobs) == 3 and len(ring) == 0
    no_ring = {_wrap(_seal(federation, None, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek for _ in range(3)}
    assert len(no_ring) == 3


def test_a_new_recipient_certificate_or_another_sender_gets_another_kek(federation: Federation) -> None:
    ring = env.KekRing()
    before = _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek
    key = pki.new_key("x25519")
    cert = pki.issue_certificate(federation.ca, key.public_key(), profile=pki.Profile.ENCRYPTION, participant=CUSTOMS)
    renewed = env.RecipientCertificate(CUSTOMS, cert)
    after = env.seal(header(SENDER, [CUSTOMS]), b"x", federation.keys(SENDER), [renewed], ring)
    assert after.envelope.key_wraps[0].sealed_kek != before
    assert after.envelope.key_wraps[0].certificate_sha256 == renewed.sha256
    other_sender = _wrap(_seal(federation, ring, recipients=(CUSTOMS,), sender="FR/POST/MAIN"), CUSTOMS).sealed_kek
    assert other_sender not in (before, after.envelope.key_wraps[0].sealed_kek)
    assert _wrap(_seal(federation, ring, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek == before  # old cert's KEK kept


def test_the_ring_holds_a_bounded_number_of_keks(federation: Federation) -> None:
    ring = env.KekRing(max_entries=2)
    for r in (CUSTOMS, TAX, "FR/CUSTOMS/MAIN"):
        _seal(federation, ring, recipients=(r,))
    assert len(ring) == 2


def test_a_key_wrap_copied_from_another_envelope_of_the_same_window_does_not_open(federation: Federation) -> None:
    ring = env.KekRing()
    donor, target = _seal(federation, ring), _seal(federation, ring)
    moved = Envelope.FromString(target.data)
    moved.key_wraps[0].wrapped_key = _wrap(donor, CUSTOMS).wrapped_key
    assert moved.key_wraps[0].sealed_kek == _wrap(donor, CUSTOMS).sealed_kek  # same KEK on both sides
    with pytest.raises(BadSignature):
        env.open(moved.SerializeToString(deterministic=True), federation.keys(CUSTOMS), federation.trust)
    # Even the sender re-signing the result cannot make one message's key wrap open another message.
    resigned = env.sign_envelope(moved, federation.keys(SENDER)).data
    with pytest.raises(DecryptionFailed):
        env.open(resigned, federation.keys(CUSTOMS), federation.trust)
    # The wrap itself is refused, not only the ciphertext behind it: its AAD names the donor's header.
    kek = AESGCM(_kek_of(federation, moved.key_wraps[0]))
    wrapped = moved.key_wraps[0].wrapped_key
    with pytest.raises(InvalidTag):
        kek.decrypt(wrapped[:12], wrapped[12:], _aad(moved, moved.key_wraps[0]))
    assert kek.decrypt(wrapped[:12], wrapped[12:], _aad(donor.envelope, _wrap(donor, CUSTOMS)))


@pytest.mark.parametrize("field", ["sealed_kek", "wrapped_key"])
def test_flipping_any_bit_of_a_key_wrap_fails_even_when_re_signed(federation: Federation, field: str) -> None:
    ring = env.KekRing()
    sealed = _seal(federation, ring)
    recipient = federation.keys(CUSTOMS)
    env.open(sealed.data, recipient, federation.trust)  # the genuine KEK is now in the cache
    original = getattr(sealed.envelope.key_wraps[0], field)
    survivors = []
    for i in range(len(original)):
        for mask in (0x01, 0x80):
            tampered = Envelope.FromString(sealed.data)
            flipped = bytearray(original)
            flipped[i] ^= mask
            setattr(tampered.key_wraps[0], field, bytes(flipped))
            data = env.sign_envelope(tampered, federation.keys(SENDER)).data
            try:
                env.open(data, recipient, federation.trust)
            except EnvelopeError:
                continue
            survivors.append((i, mask))
    assert survivors == []


@pytest.mark.parametrize("field", ["sealed_kek", "wrapped_key"])
def test_a_changed_key_wrap_breaks_the_signature_for_relaying_nodes(federation: Federation, field: str) -> None:
    sealed = _seal(federation, env.KekRing())
    for i in (0, 40, 59):
        tampered = Envelope.FromString(sealed.data)
        flipped = bytearray(getattr(tampered.key_wraps[1], field))
        flipped[i] ^= 0x01
        setattr(tampered.key_wraps[1], field, bytes(flipped))
        with pytest.raises(BadSignature):
            env.verify(tampered.SerializeToString(deterministic=True), federation.trust)  # what a relay calls


def _direct_form(fed: Federation, payload: bytes) -> bytes:
    """An envelope as sealed before the KEK form: the content key HPKE-sealed per recipient."""
    h = header(SENDER, [CUSTOMS, TAX])
    hb = h.SerializeToString(deterministic=True)
    key, nonce, salted = os.urandom(32), os.urandom(12), os.urandom(32) + payload
    wraps = [KeyWrap(recipient=r.participant, certificate_sha256=r.sha256,
                     wrapped_key=SUITE.encrypt(key, r.public_key, info=hashlib.sha256(hb).digest()))
             for r in fed.recipients([CUSTOMS, TAX])]
    e = Envelope(header=hb, nonce=nonce, ciphertext=AESGCM(key).encrypt(nonce, salted, hb), key_wraps=wraps,
                 content_commitment=hashlib.sha256(salted).digest())
    return env.sign_envelope(e, fed.keys(SENDER)).data


def test_an_envelope_of_the_direct_form_still_verifies_and_opens(federation: Federation) -> None:
    data = _direct_form(federation, b"stored before the KEK form")
    signed = json.loads(env._b64url_decode(Envelope.FromString(data).signature.split(".")[1], "p"))
    assert signed["v"] == 1 and all(set(kw) == {"r", "c", "w"} for kw in signed["kw"])
    for r in (CUSTOMS, TAX):
        assert env.open(data, federation.keys(r), federation.trust).payload == b"stored before the KEK form"


def test_an_envelope_mixing_the_two_forms_is_malformed(federation: Federation) -> None:
    kek_form = _seal(federation, env.KekRing())
    mixed = Envelope.FromString(_direct_form(federation, b"x"))
    mixed.key_wraps[0].CopyFrom(kek_form.envelope.key_wraps[0])
    data = env.sign_envelope(mixed, federation.keys(SENDER)).data
    with pytest.raises(MalformedEnvelope):
        env.verify(data, federation.trust)


@pytest.mark.parametrize("field,change", [("sealed_kek", lambda b: b[:-1]), ("sealed_kek", lambda b: b + b"\0"),
                                          ("wrapped_key", lambda b: b[:-1]), ("wrapped_key", lambda b: b + b"\0")])
def test_a_key_wrap_of_the_wrong_length_is_malformed_even_when_signed(federation: Federation, field: str, change) -> None:
    tampered = Envelope.FromString(_seal(federation, env.KekRing()).data)
    setattr(tampered.key_wraps[0], field, change(getattr(tampered.key_wraps[0], field)))
    with pytest.raises(MalformedEnvelope):
        env.verify(env.sign_envelope(tampered, federation.keys(SENDER)).data, federation.trust)


def test_a_recipient_pays_one_hpke_open_per_kek(federation: Federation, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = env.KekRing()
    sealed = [_seal(federation, ring, payload=b"%d" % i) for i in range(5)]
    opens = []

    class Counting:
        def decrypt(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            opens.append(1)
            return SUITE.decrypt(*args, **kwargs)

    monkeypatch.setattr(kek, "SUITE", Counting())
    for i, s in enumerate(sealed):
        assert env.open(s.data, federation.keys(CUSTOMS), federation.trust).payload == b"%d" % i
    assert len(opens) == 1
    env.open(sealed[0].data, federation.keys(TAX), federation.trust)  # another recipient: its own open
    assert len(opens) == 2


def test_the_kek_cache_never_serves_another_recipient_key(federation: Federation) -> None:
    sealed = _seal(federation, env.KekRing())
    real = federation.keys(CUSTOMS)
    env.open(sealed.data, real, federation.trust)
    # The same certificate paired with a key that is not its own: the cached KEK must not be handed out.
    impostor = env.ParticipantKeys(CUSTOMS, real.signing_key, real.signing_cert, pki.new_key("x25519"),  # type: ignore[arg-type]
                                   real.encryption_cert)
    with pytest.raises(DecryptionFailed):
        env.open(sealed.data, impostor, federation.trust)
    # Another recipient's key never opens the cached blob either.
    with pytest.raises((InvalidTag, ValueError)):
        env._OPENED_KEKS.open(federation.keys(TAX), SENDER, _wrap(sealed, CUSTOMS).sealed_kek)


def test_a_sealed_kek_reused_by_another_sender_does_not_open(federation: Federation) -> None:
    """A sender that copies another sender's sealed KEK (and somehow knew the KEK) gets nothing from it:
    the sender's id is in the HPKE info and in the recipient's cache key."""
    genuine = _seal(federation, env.KekRing(), recipients=(CUSTOMS,))
    stolen = _wrap(genuine, CUSTOMS)
    kek = _kek_of(federation, stolen)
    env.open(genuine.data, federation.keys(CUSTOMS), federation.trust)  # cached for DE/POST
    forged = _seal(federation, None, recipients=(CUSTOMS,), sender="FR/POST/MAIN")
    e = Envelope.FromString(forged.data)
    key = _content_key(federation, e, e.key_wraps[0])
    nonce = os.urandom(12)
    e.key_wraps[0].sealed_kek = stolen.sealed_kek
    e.key_wraps[0].wrapped_key = nonce + AESGCM(kek).encrypt(nonce, key, _aad(e, e.key_wraps[0]))
    data = env.sign_envelope(e, federation.keys("FR/POST/MAIN")).data
    with pytest.raises(DecryptionFailed):
        env.open(data, federation.keys(CUSTOMS), federation.trust)


def test_the_opened_kek_cache_is_bounded(federation: Federation) -> None:
    cache = env._OpenedKeks(max_entries=2)
    for _ in range(3):
        blob = _wrap(_seal(federation, None, recipients=(CUSTOMS,)), CUSTOMS).sealed_kek
        cache.open(federation.keys(CUSTOMS), SENDER, blob)
    assert len(cache) == 2


# --- the setting ---------------------------------------------------------------------------------


def test_envelope_settings_are_validated_and_reach_the_node(federation: Federation, tmp_path: Path) -> None:
    from gateway.config import load_node_config
    from gateway.node import Node
    from gateway.testing.nodes import free_port, write_directory, write_node_config

    directory = write_directory(federation, tmp_path, {"de-node": free_port(), "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", free_port(), directory)
    text = config.read_text()
    defaults = load_node_config(config).envelope
    assert (defaults.kek_max_messages, defaults.kek_max_age_s) == (1000, 300.0)
    for bad, problems in (
        ("kek_max_messages = -1", [("envelope.kek_max_messages", "must be >= 0")]),
        ("kek_max_messages = 2000000", [("envelope.kek_max_messages", "must be <= 1000000")]),
        ('kek_max_age_s = "5m"', [("envelope.kek_max_age_s", "must be a number")]),
        ("kek_max_age_s = 90000", [("envelope.kek_max_age_s", "must be <= 86400")]),
        ("kek_max_mesages = 10", [("envelope.kek_max_mesages", "unknown key")]),
    ):
        config.write_text(text + f"\n[envelope]\n{bad}\n")
        with pytest.raises(ConfigError) as info:
            load_node_config(config)
        assert [(p.field, p.description) for p in info.value.problems] == problems, bad
    config.write_text(text + "\n[envelope]\nkek_max_messages = 50\nkek_max_age_s = 2.5\n")
    node = Node.load(config)
    try:
        assert (node.keks.max_messages, node.keks.max_age_s) == (50, 2.5)
    finally:
        node.close()
