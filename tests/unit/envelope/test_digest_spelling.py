"""One spelling of a digest: envelopes and receipts signed now state every digest in lowercase hex (manifest v4,
receipt v2), like the directory pins, audit entries, bundles and archives. Evidence signed before, in base64url
(manifest v1-v3, receipt v1), stays verifiable; a signed statement has exactly one byte form either way."""

from __future__ import annotations

import hashlib
import json

import pytest

from gateway import envelope as env
from gateway.api.swg.v1.envelope_pb2 import Envelope
from gateway.crypto import composite
from gateway.crypto.jws import b64url_decode, sign_jws
from gateway.encoding import b64url, canonical_json
from gateway.envelope import kek as kek_mod
from gateway.envelope.seal import ENVELOPE_TYP
from gateway.envelope.receipts import RECEIPT_TYP
from gateway.errors import EnvelopeError
from gateway.testing.federation import Federation, header

SENDER = "DE/POST/MAIN"
CUSTOMS = "DE/CUSTOMS/MAIN"


@pytest.fixture(autouse=True)
def _fresh_kek_cache() -> None:
    kek_mod.OPENED_KEKS.clear()


def _seal(fed: Federation, hybrid: bool = False) -> env.Sealed:
    profile = env.HYBRID_PQ if hybrid else env.CLASSIC
    return env.seal(header(SENDER, [CUSTOMS]), b"<item/>", fed.keys(SENDER), fed.recipients([CUSTOMS], hybrid=hybrid),
                    profile=profile)


def _payload(jws: str) -> dict:
    return json.loads(b64url_decode(composite.split(jws)[0].split(".")[1], "payload"))


def _resigned(fed: Federation, envelope: Envelope, body: bytes, hybrid: bool) -> bytes:
    """The envelope signed over ``body`` by its real sender, as a node of an earlier version would have."""
    keys = fed.keys(SENDER)
    jws = sign_jws(body, keys.signing_key, (keys.signing_cert,), typ=ENVELOPE_TYP)
    envelope.signature = composite.compose(jws, keys.pq_signing_key) if hybrid else jws
    return envelope.SerializeToString(deterministic=True)


@pytest.mark.parametrize("hybrid", [False, True], ids=["classic", "hybrid-pq"])
def test_a_new_envelope_states_its_digests_in_hex(federation: Federation, hybrid: bool) -> None:
    sealed = _seal(federation, hybrid)
    m = _payload(sealed.envelope.signature)
    assert m["v"] == 4
    assert m["hdr"] == hashlib.sha256(sealed.envelope.header).hexdigest()
    assert m["ct"] == hashlib.sha256(sealed.envelope.ciphertext).hexdigest()
    assert m["cc"] == sealed.envelope.content_commitment.hex()
    assert m["kw"][0]["c"] == sealed.envelope.key_wraps[0].certificate_sha256.hex()
    assert b64url_decode(m["nonce"], "nonce") == sealed.envelope.nonce  # a nonce is not a digest
    if hybrid:
        assert m["kw"][0]["q"] == sealed.envelope.key_wraps[0].pq_key_sha256.hex()
        assert m["pq"] == federation.keys(SENDER).pq_signing_sha256.hex()


@pytest.mark.parametrize("hybrid", [False, True], ids=["classic", "hybrid-pq"])
def test_an_envelope_signed_in_base64url_before_v4_still_verifies_and_opens(federation: Federation,
                                                                            hybrid: bool) -> None:
    sealed = _seal(federation, hybrid)
    old = 3 if hybrid else 2
    kid = federation.keys(SENDER).pq_signing_sha256 if hybrid else None
    body = env.manifest(sealed.envelope, kid, old)
    assert _b64url_digests(json.loads(body))
    data = _resigned(federation, Envelope.FromString(sealed.data), body, hybrid)
    opened = env.open(data, federation.keys(CUSTOMS), federation.trust, pq_keys=federation)
    assert opened.payload == b"<item/>"


@pytest.mark.parametrize("hybrid", [False, True], ids=["classic", "hybrid-pq"])
def test_a_manifest_relabelled_to_another_version_is_refused(federation: Federation, hybrid: bool) -> None:
    sealed = _seal(federation, hybrid)
    kid = federation.keys(SENDER).pq_signing_sha256 if hybrid else None
    # v4 spelling with an old version number, and the old spelling claiming v4: neither is the manifest.
    relabelled = json.loads(env.manifest(sealed.envelope, kid))
    relabelled["v"] = 3 if hybrid else 2
    for body in (canonical_json(relabelled), env.manifest(sealed.envelope, kid, 3 if hybrid else 2)
                 .replace(b'"v":3', b'"v":4').replace(b'"v":2', b'"v":4'), env.manifest(sealed.envelope, kid)
                 .replace(b'"v":4', b'"v":1')):
        data = _resigned(federation, Envelope.FromString(sealed.data), body, hybrid)
        with pytest.raises(EnvelopeError):
            env.verify(data, federation.trust, pq_keys=federation)


def test_uppercase_hex_in_a_manifest_is_refused(federation: Federation) -> None:
    sealed = _seal(federation, hybrid=True)
    kid = federation.keys(SENDER).pq_signing_sha256
    body = json.loads(env.manifest(sealed.envelope, kid))
    body["pq"] = body["pq"].upper()
    data = _resigned(federation, Envelope.FromString(sealed.data), canonical_json(body), hybrid=True)
    with pytest.raises(EnvelopeError):
        env.verify(data, federation.trust, pq_keys=federation)


def _b64url_digests(m: dict) -> bool:
    return all(len(m[k]) == 43 for k in ("hdr", "ct", "cc"))


@pytest.mark.parametrize("hybrid", [False, True], ids=["classic", "hybrid-pq"])
def test_a_receipt_states_its_digest_in_hex_and_a_v1_receipt_still_verifies(federation: Federation,
                                                                              hybrid: bool) -> None:
    sealed = _seal(federation, hybrid)
    keys = federation.keys(CUSTOMS)
    profile = env.HYBRID_PQ if hybrid else env.CLASSIC
    rc = env.issue_receipt(message_id=sealed.header.message_id, envelope_sha256=sealed.sha256, recipient=keys,
                           issuing_node="de-node", profile=profile)
    claims = _payload(rc.jws)
    assert claims["v"] == 2 and claims["dig"] == sealed.sha256.hex()
    if hybrid:
        assert claims["pq"] == keys.pq_signing_sha256.hex()
    # The same statement as a v1 receipt spelled it.
    v1 = dict(claims, v=1, dig=b64url(sealed.sha256))
    if hybrid:
        v1["pq"] = b64url(keys.pq_signing_sha256)
    jws = sign_jws(canonical_json(v1), keys.signing_key, (keys.signing_cert,), typ=RECEIPT_TYP)
    if hybrid:
        jws = composite.compose(jws, keys.pq_signing_key)
    stated = env.verify_receipt(jws, federation.trust, pq_keys=federation)
    assert stated.envelope_sha256 == sealed.sha256
    # A v2 receipt spelled the old way, or a v1 spelled the new way, is not a receipt.
    for wrong in (dict(claims, dig=b64url(sealed.sha256)), dict(v1, dig=sealed.sha256.hex()),
                  dict(claims, dig=sealed.sha256.hex().upper())):
        forged = sign_jws(canonical_json(wrong), keys.signing_key, (keys.signing_cert,), typ=RECEIPT_TYP)
        if hybrid:
            forged = composite.compose(forged, keys.pq_signing_key)
        with pytest.raises(EnvelopeError):
            env.verify_receipt(forged, federation.trust, pq_keys=federation)
