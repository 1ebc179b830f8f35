"""Getting stored messages to their recipients: Receive streams, acknowledgements, receipts, expiry.

Delivery is at least once. A delivery handed out on a stream is leased for the visibility timeout;
without an Acknowledge in time, or when its stream ends, it is handed out again (attempt + 1).
Acknowledge makes this node sign a receipt on the recipient's behalf, stored for the sender's status.

No delivery holds up the ones behind it: one that cannot be encoded or is too large to send goes back to
the queue with a backoff, and is FAILED (audited once, a dead letter for ``gateway deliveries``) after
``[delivery] max_attempts``; a delivery claimed more than ``max_attempts`` times (streams that end before
acknowledging, leases that run out) is FAILED too. The ``delivered`` audit entry is written when gRPC has
taken the message, not when it was claimed: a stream cancelled before the send writes none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import structlog
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError, Message

from adapters import registry
from adapters.errors import AdapterError
from gateway import envelope
from gateway.config import DeliverySettings
from gateway.evidence import audit
from gateway.exchange import sizes
from gateway.api.swg.v1 import envelope_pb2, exchange_pb2
from gateway.errors import FieldViolation, GatewayError, InvalidArgument, NotFound
from gateway.clock import now_us, timestamp_us
from gateway.ids import MESSAGE_ID_RULE, is_message_id
from gateway.node import Node
from gateway.store import Claimed, ReceiptRecord

# A Receive stream hands out at most [limits] max_in_flight_per_stream at a time, far below this; the cap
# keeps one call from making the node read and audit without bound.
MAX_ACK_IDS = 10_000
# `[delivery] max_attempts = 0` (the default) leaves relay unbounded (a peer may be down for long), but a local
# delivery is handed out at most this many times: a recipient that opens and cancels streams in a loop must
# not make one message count attempts and audit entries without end.
DEFAULT_LOCAL_MAX_ATTEMPTS = 10

log = structlog.get_logger("gateway.exchange.delivery")


def local_max_attempts(settings: DeliverySettings) -> int:
    return settings.max_attempts or DEFAULT_LOCAL_MAX_ATTEMPTS


def retry_delay_s(settings: DeliverySettings, attempt: int) -> float:
    """Backoff before a delivery that could not be sent is handed out again: initial * multiplier^(attempt-1)."""
    base = min(settings.retry_max_s, settings.retry_initial_s * settings.retry_multiplier ** max(attempt - 1, 0))
    return max(0.0, base * (1 + random.uniform(-settings.retry_jitter, settings.retry_jitter)))


def ts(us: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def receipt_message(rec: ReceiptRecord) -> envelope_pb2.Receipt:
    return envelope_pb2.Receipt(message_id=rec.message_id, recipient=rec.recipient,
                                envelope_sha256=rec.envelope_sha256, received_at=ts(rec.issued_us),
                                issuing_node=rec.issuing_node, jws=rec.jws)


@dataclass(eq=False)
class _Stream:
    participant: str
    owner: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # message id -> what this stream handed out and awaits acks for.
    outstanding: dict[str, _Held] = field(default_factory=dict)
    # Yielded to gRPC, its `delivered` entry not written yet (an Acknowledge of it writes it first).
    sending: Claimed | None = None


@dataclass(frozen=True)
class _Held:
    delivery_id: int
    lease_until_us: int
    envelope_sha256: bytes
    created_us: int


class LocalDelivery:
    """Receive streams of hosted participants, and their acknowledgements."""

    def __init__(self, node: Node):
        self.node = node
        self._streams: dict[str, set[_Stream]] = defaultdict(set)
        # Set once shutdown handed the leases back: streams still open during the grace period must not
        # claim again what was just released (it would count as one more attempt, and be leased to no one).
        self._stopping = False

    def notify(self, participants: Sequence[str]) -> None:
        for p in participants:
            for s in self._streams.get(p, ()):
                s.wake.set()

    def _format_for(self, participant: str, document_type: str, asked: str) -> str:
        if asked:
            try:
                if registry.get(asked).document_type == document_type:
                    return asked
            except AdapterError:
                pass
        return self.node.preferred_format(participant, document_type)

    def check_format(self, asked: str) -> None:
        if asked and asked not in registry.known_formats():
            raise InvalidArgument("unknown format", violations=[FieldViolation(
                "format", f"unknown format {asked!r}; known: {', '.join(registry.known_formats())}")])

    async def _open(self, claimed: Claimed) -> tuple[envelope_pb2.EnvelopeHeader, Message, bytes]:
        """Verify and decrypt (a large envelope in a thread); one that does not open never will (FAILED at once)."""
        keys = self.node.keys_of(claimed.recipient)
        codec = self.node.codec
        # Stored envelopes were verified when they were accepted (sealed here or relayed under the policy of
        # the day): a classic one accepted during the transition window is still delivered after it closed.
        opened = await codec.to_thread(len(claimed.envelope), functools.partial(
            envelope.open, claimed.envelope, keys, self.node.trust, pq_keys=self.node.view))
        h = opened.header
        doc_cls = registry.DOCUMENT_TYPES[h.document_type]
        return h, doc_cls.FromString(opened.payload), opened.payload

    async def _encode(self, claimed: Claimed, h: envelope_pb2.EnvelopeHeader, doc: Message, payload: bytes,
                      asked_format: str, include_envelope: bool) -> exchange_pb2.Delivery:
        """The Delivery in the recipient's format; AdapterError or ResourceExhausted when it cannot be sent."""
        fmt = self._format_for(claimed.recipient, h.document_type, asked_format)
        # A large document is written in a worker process (gateway.codec): the event loop stays free.
        content = await self.node.codec.encode(fmt, h.document_type, doc, payload)
        delivery = exchange_pb2.Delivery(
            message_id=h.message_id, conversation_id=h.conversation_id, in_reply_to=h.in_reply_to, sender=h.sender,
            document_type=h.document_type, format=fmt, content=content, created_at=h.created_at,
            expires_at=h.expires_at, attempt=claimed.attempt, envelope_sha256=claimed.envelope_sha256,
            envelope=claimed.envelope if include_envelope else b"")
        sizes.check_delivery_size(self.node.config.limits, delivery.ByteSize(), fmt)
        return delivery

    def _record_delivered(self, c: Claimed) -> None:
        # Written once gRPC took the message (see the module docstring). Not awaited: the writer commits in
        # submission order, and an Acknowledge in this process comes after it.
        event = audit.AuditEvent(audit.DELIVERED, c.message_id, subject=c.recipient, detail={
            "attempt": c.attempt, "envelope_sha256": c.envelope_sha256.hex()})
        self.node.store.append_audit([event], now_us())
        self.node.metrics.delivered(c.attempt)

    async def _retry_later(self, claimed: Claimed, owner: str, err: Exception) -> None:
        """Could not be encoded or sent: back to the queue after a backoff, FAILED after max_attempts."""
        settings = self.node.config.delivery
        reason = f"{type(err).__name__}: {err}"
        now = now_us()
        failed = await self.node.store.retry_later(
            [claimed.delivery_id], owner, reason, now + int(retry_delay_s(settings, claimed.attempt) * 1_000_000),
            local_max_attempts(settings), now)
        if failed:
            self.node.metrics.failed("GaveUp" if isinstance(err, str) else type(err).__name__)
            log.error("delivery failed", message_id=claimed.message_id, recipient=claimed.recipient,
                      attempts=claimed.attempt, reason=reason)
        else:
            log.warning("delivery put back", message_id=claimed.message_id, recipient=claimed.recipient,
                        attempt=claimed.attempt, reason=reason)

    async def _fail(self, claimed: Claimed, err: Exception | str) -> None:
        reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
        self.node.metrics.failed("GaveUp" if isinstance(err, str) else type(err).__name__)
        log.error("delivery failed", message_id=claimed.message_id, recipient=claimed.recipient, reason=reason)
        store = self.node.store
        ev = audit.AuditEvent(audit.FAILED, claimed.message_id, subject=claimed.recipient, detail={"reason": reason[:200]})
        await store.fail(claimed.delivery_id, reason, ev, now_us())

    async def _prepare(self, c: Claimed, req: exchange_pb2.ReceiveRequest, s: _Stream,
                       max_attempts: int) -> exchange_pb2.Delivery | None:
        """The Delivery to send, or None when the delivery was failed or put back instead."""
        if c.attempt > max_attempts:
            await self._fail(c, f"gave up after {max_attempts} attempts (delivery.max_attempts) "
                                "without an acknowledgement")
            return None
        try:
            header, doc, payload = await self._open(c)
        except (GatewayError, AdapterError, ValueError, DecodeError) as exc:
            await self._fail(c, exc)
            return None
        try:
            return await self._encode(c, header, doc, payload, req.format, req.include_envelope)
        except (GatewayError, AdapterError, ValueError) as exc:
            await self._retry_later(c, s.owner, exc)
            return None

    async def stream(self, participant: str, req: exchange_pb2.ReceiveRequest) -> AsyncIterator[exchange_pb2.Delivery]:
        self.node.keys_of(participant)
        self.check_format(req.format)
        cfg = self.node.config
        max_in_flight = min(req.max_in_flight or 64, cfg.limits.max_in_flight_per_stream)
        max_attempts = local_max_attempts(cfg.delivery)
        lease_us = int(cfg.limits.visibility_timeout_s * 1_000_000)
        s = _Stream(participant, f"{self.node.name}/{uuid.uuid4()}")
        self._streams[participant].add(s)
        store = self.node.store
        log.info("receive stream opened", recipient=participant, owner=s.owner)
        try:
            while True:
                now = now_us()
                # Leases that ran out are no longer this stream's: the claim query hands them out again.
                for mid, held in list(s.outstanding.items()):
                    if held.lease_until_us <= now:
                        del s.outstanding[mid]
                room = max_in_flight - len(s.outstanding)
                claimed: list[Claimed] = []
                if room > 0 and not self._stopping:
                    s.wake.clear()
                    pending = store.claim(
                        recipient=participant, route="local", owner=s.owner, limit=room, now_us=now,
                        lease_us=lease_us, document_types=list(req.document_types))
                    try:
                        claimed = await asyncio.shield(asyncio.wrap_future(pending))
                    except asyncio.CancelledError:
                        # The stream ended while claiming: whatever the claim took goes straight back.
                        pending.add_done_callback(functools.partial(self._release_claim, owner=s.owner))
                        raise
                # Held by this stream from here on, so that ending it mid-batch gives all of them back
                # (what is failed or put back below is no longer in flight, and a release leaves it alone).
                for c in claimed:
                    s.outstanding[c.message_id] = _Held(c.delivery_id, now + lease_us, c.envelope_sha256, c.created_us)
                ready: list[tuple[Claimed, exchange_pb2.Delivery]] = []
                for c in claimed:
                    delivery = await self._prepare(c, req, s, max_attempts)
                    if delivery is None:
                        s.outstanding.pop(c.message_id, None)
                    else:
                        ready.append((c, delivery))
                for c, delivery in ready:
                    s.sending = c
                    yield delivery
                    # gRPC asks for the next message only once it took this one: sent (a stream cancelled
                    # before the send leaves the generator at the yield, and nothing is recorded).
                    if s.sending is c:
                        self._record_delivered(c)
                    s.sending = None
                    log.info("delivered", message_id=c.message_id, recipient=participant,
                             document_type=delivery.document_type, attempt=c.attempt)
                if claimed:
                    continue
                try:
                    await asyncio.wait_for(s.wake.wait(), timeout=cfg.delivery.poll_interval_s)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._streams[participant].discard(s)
            ids = [h.delivery_id for h in s.outstanding.values()]
            s.outstanding.clear()
            if ids:
                # The stream is gone: what it still held goes back to the queue for the next stream.
                store.release(ids, s.owner, now_us())
            log.info("receive stream closed", recipient=participant, owner=s.owner, unacknowledged=len(ids))

    def _release_claim(self, fut: concurrent.futures.Future[list[Claimed]], owner: str) -> None:
        if fut.cancelled() or fut.exception() is not None or not fut.result():
            return
        store = self.node.store
        store.release([c.delivery_id for c in fut.result()], owner, now_us())

    async def release_all(self) -> None:
        """On shutdown: hand back everything open streams hold, before the store closes."""
        store = self.node.store
        self._stopping = True
        for streams in list(self._streams.values()):
            for s in list(streams):
                ids = [h.delivery_id for h in s.outstanding.values()]
                s.outstanding.clear()
                if ids:
                    await store.release(ids, s.owner, now_us())

    async def acknowledge(self, participant: str, message_ids: Sequence[str]) -> list[envelope_pb2.Receipt]:
        keys = self.node.keys_of(participant)
        if not message_ids:
            raise InvalidArgument("nothing to acknowledge", violations=[FieldViolation("message_ids", "empty")])
        if len(message_ids) > MAX_ACK_IDS:
            raise InvalidArgument(f"at most {MAX_ACK_IDS} message ids per Acknowledge (got {len(message_ids)})",
                                  violations=[FieldViolation("message_ids", f"more than {MAX_ACK_IDS}")])
        bad = [FieldViolation(f"message_ids[{i}]", MESSAGE_ID_RULE)
               for i, mid in enumerate(message_ids) if not is_message_id(mid)]
        if bad:
            raise InvalidArgument("Acknowledge names malformed message ids", violations=bad)
        ids = list(dict.fromkeys(message_ids))
        store = self.node.store
        # (envelope digest, created) of each: what this participant's streams handed out needs no read;
        # the rest (another process's stream, a lease that ran out) is looked up.
        found: dict[str, tuple[bytes, int]] = {}
        for s in self._streams.get(participant, ()):
            if s.sending is not None and s.sending.message_id in ids:
                # Acknowledged, so it was sent: its `delivered` entry goes before the acknowledgement.
                self._record_delivered(s.sending)
                s.sending = None
            for mid in ids:
                held = s.outstanding.get(mid)
                if held is not None:
                    found[mid] = (held.envelope_sha256, held.created_us)
        rest = [i for i in ids if i not in found]
        if rest:
            stored = await asyncio.to_thread(store.deliveries_for, participant, rest)
            found.update((mid, (digest, rec.created_us)) for mid, (rec, digest) in stored.items())
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no delivery to {participant} of message(s) {', '.join(missing[:5])}")
        now = now_us()
        receipts: list[ReceiptRecord] = []
        events: list[audit.AuditEvent] = []
        # Local acknowledgements are read by the sender's node under the same directory: hybrid-pq once the
        # federation sends it (the recipient holding a PQ key), classic otherwise.
        view = self.node.view
        has_pq = keys.pq_signing_key is not None and view.announces_pq(participant)
        profile = envelope.receipt_profile(
            view.crypto, envelope.HYBRID_PQ if view.crypto.phase() is not envelope.Phase.CLASSIC else envelope.CLASSIC,
            has_pq)
        for mid in ids:
            digest = found[mid][0]
            r = envelope.issue_receipt(message_id=mid, envelope_sha256=digest, recipient=keys,
                                       issuing_node=self.node.name, profile=profile)
            receipts.append(ReceiptRecord(mid, participant, "acknowledged", r.jws, digest,
                                          timestamp_us(r.received_at),
                                          self.node.name))
            events.append(audit.AuditEvent(audit.ACKNOWLEDGED, mid, actor=participant, detail={
                "envelope_sha256": digest.hex(), "receipt": "issued",
                "receipt_sha256": hashlib.sha256(r.jws.encode("ascii")).hexdigest()}))
        outcome = await store.acknowledge(participant, receipts, events, now)
        for s in self._streams.get(participant, ()):
            for mid in ids:
                s.outstanding.pop(mid, None)
            s.wake.set()
        for mid in outcome.acknowledged:
            self.node.metrics.acknowledged((now - found[mid][1]) / 1e6)
        log.info("acknowledged", recipient=participant, count=len(outcome.acknowledged))
        return [receipt_message(outcome.receipts[mid]) for mid in ids]


class ExpiryWorker:
    """Periodically turns undelivered, expired deliveries into EXPIRED (audited, never silently dropped)."""

    def __init__(self, node: Node):
        self.node = node

    async def run(self) -> None:
        store = self.node.store
        while True:
            try:
                expired = await store.expire(now_us())
                for d in expired:
                    log.warning("expired", message_id=d.message_id, recipient=d.recipient, attempts=d.attempts)
                if len(expired) >= 1000:
                    continue
            except GatewayError as exc:
                log.error("expiry sweep failed", reason=str(exc))
            await asyncio.sleep(self.node.config.delivery.expiry_sweep_s)

