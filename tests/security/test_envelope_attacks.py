"""Envelopes at rest and in transit: tampering, replay, sender spoofing and recipient swap are caught."""

from __future__ import annotations

import sqlite3
import time

import pytest

from gateway import envelope
from gateway.evidence import audit
from gateway.api.swg.v1 import envelope_pb2, exchange_pb2
from gateway.errors import BadSignature, DecryptionFailed, EnvelopeError, NotARecipient, SenderMismatch
from gateway.store import NewDelivery, NewMessage
from gateway.store.states import ACKNOWLEDGED, FAILED
from tests.security.harness import CUSTOMS, POST, TAX, SecurityNode, submit_request
from tests.support import tally
from gateway.testing.federation import header


def stored_envelope(secnode: SecurityNode, message_id: str) -> bytes:
    db = sqlite3.connect(f"file:{secnode.db_path}?mode=ro", uri=True)
    try:
        return bytes(db.execute("select envelope from messages where message_id = ?", (message_id,)).fetchone()[0])
    finally:
        db.close()


def delivery_state(secnode: SecurityNode, message_id: str) -> int:
    db = sqlite3.connect(f"file:{secnode.db_path}?mode=ro", uri=True)
    try:
        return int(db.execute("select state from deliveries where message_id = ?", (message_id,)).fetchone()[0])
    finally:
        db.close()


def refused(category: str, exc: type[EnvelopeError], fn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc):
        fn()
    tally.attack(category, True)


def test_every_byte_flip_of_a_stored_envelope_is_detected(secnode: SecurityNode) -> None:
    post = secnode.client(POST)
    resp = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    data = stored_envelope(secnode, resp.message_id)
    node = secnode.runner.node
    assert envelope.open(data, node.keys[CUSTOMS], node.trust).header.message_id == resp.message_id
    step = max(1, len(data) // 64)
    for i in range(0, len(data), step):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        refused("envelope", EnvelopeError, lambda t=bytes(tampered): envelope.open(t, node.keys[CUSTOMS], node.trust))


def test_tampered_envelope_in_the_database_is_never_delivered(secnode: SecurityNode) -> None:
    """A curious operator edits a stored envelope: the recipient never sees it; the delivery FAILS, audited."""
    post, customs = secnode.client(POST), secnode.client(CUSTOMS)
    resp = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    data = bytearray(stored_envelope(secnode, resp.message_id))
    data[len(data) // 2] ^= 0xFF
    db = sqlite3.connect(secnode.db_path, timeout=30)
    db.execute("update messages set envelope = ? where message_id = ?", (bytes(data), resp.message_id))
    db.commit()
    db.close()
    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=30)
    deadline = time.monotonic() + 20
    delivered = []
    try:
        for d in stream:
            delivered.append(d.message_id)
            customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[d.message_id]),
                                         metadata=customs.metadata, timeout=10)
            if delivery_state(secnode, resp.message_id) == FAILED or time.monotonic() > deadline:
                break
    finally:
        stream.cancel()
    while delivery_state(secnode, resp.message_id) != FAILED and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition with a deadline
    assert resp.message_id not in delivered
    assert delivery_state(secnode, resp.message_id) == FAILED
    tally.attack("envelope", True)


def test_sender_spoofed_in_the_header_is_detected(secnode: SecurityNode) -> None:
    fed = secnode.fed
    node = secnode.runner.node
    # FR/POST signs with its own keys but writes DE/POST as sender (seal() itself refuses this, so assemble).
    honest = envelope.seal(header("FR/POST/MAIN", [CUSTOMS]), b"payload", fed.keys("FR/POST/MAIN"),
                           fed.recipients([CUSTOMS]))
    env = envelope_pb2.Envelope.FromString(honest.data)
    h = envelope_pb2.EnvelopeHeader.FromString(env.header)
    h.sender = POST
    env.header = h.SerializeToString(deterministic=True)
    forged = envelope.sign_envelope(env, fed.keys("FR/POST/MAIN"))
    refused("envelope", SenderMismatch, lambda: envelope.open(forged.data, node.keys[CUSTOMS], node.trust))


def test_recipient_swap_is_detected(secnode: SecurityNode) -> None:
    fed = secnode.fed
    node = secnode.runner.node
    sealed = envelope.seal(header(POST, [CUSTOMS]), b"payload", fed.keys(POST), fed.recipients([CUSTOMS]))
    # Another recipient cannot open it ...
    refused("envelope", NotARecipient, lambda: envelope.open(sealed.data, node.keys[TAX], node.trust))
    # ... and renaming the recipient in the header and key wrap breaks the sender's signature.
    env = envelope_pb2.Envelope.FromString(sealed.data)
    h = envelope_pb2.EnvelopeHeader.FromString(env.header)
    h.recipients[:] = [TAX]
    env.header = h.SerializeToString(deterministic=True)
    env.key_wraps[0].recipient = TAX
    swapped = env.SerializeToString(deterministic=True)
    refused("envelope", BadSignature, lambda: envelope.open(swapped, node.keys[TAX], node.trust))


def test_a_key_wrap_moved_between_envelopes_of_one_kek_window_is_refused(secnode: SecurityNode) -> None:
    """Two messages of one sender to one recipient share a sealed KEK; a curious operator or a peer who
    moves one message's key wrap into the other (or swaps the sealed KEKs) gets nothing delivered."""
    post = secnode.client(POST)
    node = secnode.runner.node
    first, second = (stored_envelope(secnode, post.exchange.Submit(submit_request(), metadata=post.metadata,
                                                                   timeout=30).message_id) for _ in range(2))
    a, b = envelope_pb2.Envelope.FromString(first), envelope_pb2.Envelope.FromString(second)
    wrap_a = next(kw for kw in a.key_wraps if kw.recipient == CUSTOMS)
    wrap_b = next(kw for kw in b.key_wraps if kw.recipient == CUSTOMS)
    assert wrap_a.sealed_kek == wrap_b.sealed_kek and wrap_a.wrapped_key != wrap_b.wrapped_key  # one KEK window
    wrap_b.wrapped_key = wrap_a.wrapped_key
    moved = b.SerializeToString(deterministic=True)
    refused("envelope", BadSignature, lambda: envelope.open(moved, node.keys[CUSTOMS], node.trust))
    refused("envelope", BadSignature, lambda: envelope.verify(moved, node.trust))
    # Only the sender's own key could re-sign it; even then the wrap does not open in this envelope.
    resigned = envelope.sign_envelope(b, secnode.fed.keys(POST)).data
    refused("envelope", DecryptionFailed, lambda: envelope.open(resigned, node.keys[CUSTOMS], node.trust))
    assert envelope.open(first, node.keys[CUSTOMS], node.trust).header.message_id


def test_replayed_envelope_after_delivery_is_not_delivered_again(secnode: SecurityNode) -> None:
    """The same signed envelope arriving again (e.g. relayed twice) is one message: no second delivery."""
    post, customs = secnode.client(POST), secnode.client(CUSTOMS)
    resp = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id]),
                                 metadata=customs.metadata, timeout=10)
    assert delivery_state(secnode, resp.message_id) == ACKNOWLEDGED
    node = secnode.runner.node
    data = stored_envelope(secnode, resp.message_id)
    v = envelope.verify(data, node.trust)
    h = v.header
    before = secnode.counts()
    replay = NewMessage(
        message_id=h.message_id, conversation_id=h.conversation_id, in_reply_to=h.in_reply_to, sender=h.sender,
        document_type=h.document_type, submit_sha256=None, envelope=data, envelope_sha256=v.sha256,
        created_us=h.created_at.seconds * 1_000_000, expires_us=h.expires_at.seconds * 1_000_000,
        accepted_us=time.time_ns() // 1000, origin="fr-node", attributes={}, item_ids=(),
        deliveries=(NewDelivery(CUSTOMS, "local"),), audit_event=audit.AuditEvent(audit.ACCEPTED, h.message_id))
    accepted = node.store.accept(replay).result()
    assert accepted.duplicate
    assert secnode.counts() == before
    assert delivery_state(secnode, resp.message_id) == ACKNOWLEDGED
    tally.attack("envelope", True)
