"""Node-to-node relay (swg.v1.Peering.Relay): store-and-forward of sealed envelopes between nodes.

Outbound, one ``PeerLink`` per peer node claims the deliveries routed to that node, in acceptance
order, and sends each envelope once per message over one bidi stream; the peer answers with signed
"delivered" receipts, and the deliveries become DELIVERED. "acknowledged" receipts issued here for
messages relayed in go back to their origin node through the same link (outbox ``peer_receipts``).

A link that cannot reach its peer (or whose peer answers with a passing error) retries with exponential
backoff and jitter, like AS4's PROGRESSIVE retry, for the whole link: deliveries are put back with the
link's next attempt time, so that after an outage they go out again in their original order. Permanent
refusals (bad signature, no access right, unknown recipient) make the deliveries FAILED with the reason.

Both directions pin the peer's TLS certificate to the one the directory names for that node (SHA-256 of
its DER), not merely to any certificate of the federation: inbound through the caller's certificate,
outbound by checking the certificate the peer presents before the stream is opened.

The relaying path never decrypts: only the node hosting a recipient opens the envelope, with that
recipient's key, to check the sender's access right and to learn the item ids it concerns.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog

from adapters import registry
from gateway import envelope
from gateway.evidence import audit
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.swg.v1 import envelope_pb2, peering_pb2, peering_pb2_grpc
from gateway.crypto.certificates import pem_file_fingerprint
from gateway.crypto.tls_probe import probe_certificate
from gateway.crypto.tokens import Identity
from gateway.config import DeliverySettings
from gateway.federation import DirectoryNode
from gateway.errors import (
    FailedPrecondition,
    GatewayError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from gateway.clock import now_us, timestamp_us
from gateway.node import Node
from gateway.store import Claimed, NewDelivery, NewMessage, ReceiptRecord

log = structlog.get_logger("gateway.peering")

BATCH = 64
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def certificate_sha256(pem_path: Path) -> bytes:
    """SHA-256 of a PEM certificate's DER: what the directory pins a node to."""
    return pem_file_fingerprint(pem_path)


def _pinned(entry: DirectoryNode) -> bytes:
    # The pin taken when the (signed) directory was loaded, so a certificate file swapped later is refused.
    if entry.tls_certificate_sha256:
        return bytes.fromhex(entry.tls_certificate_sha256)
    return certificate_sha256(entry.tls_certificate)


def retry_delay(settings: DeliverySettings, failures: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with +-jitter: initial * multiplier^(failures-1), capped at retry_max_s."""
    base = min(settings.retry_max_s, settings.retry_initial_s * settings.retry_multiplier ** max(failures - 1, 0))
    jitter = (rng or random).uniform(-settings.retry_jitter, settings.retry_jitter)
    return max(0.0, base * (1 + jitter))


def _ts_us(ts: Timestamp) -> int:
    return timestamp_us(ts)


def _record(r: envelope_pb2.Receipt, kind: str) -> ReceiptRecord:
    return ReceiptRecord(r.message_id, r.recipient, kind, r.jws, r.envelope_sha256, _ts_us(r.received_at),
                         r.issuing_node)


def _receipt(rec: ReceiptRecord) -> envelope_pb2.Receipt:
    return envelope_pb2.Receipt(message_id=rec.message_id, recipient=rec.recipient,
                                envelope_sha256=rec.envelope_sha256,
                                received_at={"seconds": rec.issued_us // 1_000_000}, issuing_node=rec.issuing_node,
                                jws=rec.jws)


# ------------------------------------------------------------------------------------------------
# inbound


def check_peer(node: Node, ident: Identity) -> str:
    """The calling node, if its TLS certificate is exactly the one the directory names for it."""
    if ident.kind != "node":
        raise PermissionDenied("Relay is for peer nodes (node TLS certificate) only")
    entry = node.directory.nodes.get(ident.principal)
    if entry is None or ident.principal == node.name:
        raise PermissionDenied(f"node {ident.principal!r} is not a peer in the directory")
    if _pinned(entry) != ident.cert_sha256:
        raise PermissionDenied(f"the certificate presented by {ident.principal} is not the one the directory "
                               "pins for it (nodes[].tls_certificate)")
    return ident.principal


@dataclass(frozen=True)
class InboundResult:
    response: peering_pb2.RelayResponse
    error: GatewayError | None = None


class Inbound:
    """The receiving side: verify, check access rights, store for hosted recipients, sign receipts."""

    def __init__(self, node: Node, notify: Callable[[Sequence[str]], None],
                 on_stored: Callable[[envelope_pb2.EnvelopeHeader, Any], Awaitable[None]] | None = None):
        self.node = node
        self._notify = notify
        self._on_stored = on_stored

    async def handle(self, peer: str, req: peering_pb2.RelayRequest) -> InboundResult:
        which = req.WhichOneof("item")
        try:
            if which == "envelope":
                return InboundResult(await self._envelope(peer, req))
            if which == "receipt":
                return InboundResult(await self._ack_receipt(peer, req))
            raise InvalidArgument("RelayRequest carries neither an envelope nor a receipt")
        except GatewayError as err:
            permanent = not err.retryable
            outcome = peering_pb2.RELAY_OUTCOME_REJECTED if permanent else peering_pb2.RELAY_OUTCOME_UNSPECIFIED
            log.warning("relay refused", peer=peer, relay_id=req.relay_id, reason=err.message, permanent=permanent)
            if permanent and which == "envelope":
                self.node.store.append_audit([audit.AuditEvent(
                    audit.REFUSED, "", actor=peer, detail={"reason": err.message[:200], "via": "relay"})], now_us())
            return InboundResult(peering_pb2.RelayResponse(relay_id=req.relay_id, outcome=outcome), err)

    async def _envelope(self, peer: str, req: peering_pb2.RelayRequest) -> peering_pb2.RelayResponse:
        node = self.node
        verified = await asyncio.to_thread(envelope.verify, req.envelope, node.trust)
        h = verified.header
        sender = node.directory.participants.get(h.sender)
        if sender is None or sender.node != peer:
            raise PermissionDenied(f"sender {h.sender} is not hosted by node {peer}")
        hosted = [r for r in h.recipients if r in node.keys]
        if not hosted:
            raise NotFound(f"none of the recipients {', '.join(h.recipients)} is hosted by node {node.name}")
        now = now_us()
        if _ts_us(h.expires_at) <= now:
            raise FailedPrecondition(f"message {h.message_id} expired before it arrived")
        # Only a recipient's node opens the envelope: to check the access right on the document itself.
        opened = await asyncio.to_thread(envelope.open, req.envelope, node.keys[hosted[0]], node.trust)
        doc_cls = registry.DOCUMENT_TYPES.get(h.document_type)
        if doc_cls is None:
            raise InvalidArgument(f"unknown document type {h.document_type}")
        doc = doc_cls.FromString(opened.payload)
        decision = await asyncio.to_thread(node.router.route, sender=h.sender, document_type=h.document_type,
                                           doc=doc, explicit=hosted, in_reply_to=h.in_reply_to)
        receipts = []
        for r in hosted:
            rc = envelope.issue_receipt(message_id=h.message_id, envelope_sha256=verified.sha256,
                                        recipient=node.keys[r], issuing_node=node.name)
            receipts.append(_record(rc, "delivered"))
        msg = NewMessage(
            message_id=h.message_id, conversation_id=h.conversation_id, in_reply_to=h.in_reply_to, sender=h.sender,
            document_type=h.document_type, submit_sha256=None, envelope=req.envelope,
            envelope_sha256=verified.sha256, created_us=_ts_us(h.created_at), expires_us=_ts_us(h.expires_at),
            accepted_us=now, origin=peer, attributes=dict(h.routing_attributes), item_ids=decision.item_ids,
            deliveries=tuple(NewDelivery(r, "local") for r in hosted),
            audit_event=audit.AuditEvent(audit.RELAY_RECEIVED, h.message_id, actor=peer, subject=h.sender, detail={
                "document_type": h.document_type, "recipients": hosted, "envelope_sha256": verified.sha256.hex(),
                "conversation_id": h.conversation_id}))
        store = node.store
        accepted, stored = await store.accept_relayed(msg, receipts)
        if not accepted.duplicate:
            log.info("relay received", message_id=h.message_id, peer=peer, sender=h.sender,
                     document_type=h.document_type, recipients=hosted)
            self._notify(hosted)
            if self._on_stored is not None:
                await self._on_stored(h, doc)
        outcome = peering_pb2.RELAY_OUTCOME_DUPLICATE if accepted.duplicate else peering_pb2.RELAY_OUTCOME_ACCEPTED
        return peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=h.message_id, outcome=outcome,
                                         receipts=[_receipt(s) for s in stored])

    async def _ack_receipt(self, peer: str, req: peering_pb2.RelayRequest) -> peering_pb2.RelayResponse:
        node = self.node
        rc = await asyncio.to_thread(envelope.verify_receipt, req.receipt, node.trust)
        entry = node.directory.participants.get(rc.recipient)
        if entry is None or entry.node != peer:
            raise PermissionDenied(f"receipt recipient {rc.recipient} is not hosted by node {peer}")
        msg = await asyncio.to_thread(node.store.message, rc.message_id)
        if msg.origin != "local" or msg.envelope_sha256 != rc.envelope_sha256:
            raise InvalidArgument(f"receipt does not match message {rc.message_id} sent from this node")
        store = node.store
        ev = audit.AuditEvent(audit.ACKNOWLEDGED, rc.message_id, actor=rc.recipient, subject=peer, detail={
            "envelope_sha256": rc.envelope_sha256.hex(), "receipt": "relayed"})
        fresh = await store.peer_acknowledged(_record(rc, "acknowledged"), peer, ev, now_us())
        outcome = peering_pb2.RELAY_OUTCOME_ACCEPTED if fresh else peering_pb2.RELAY_OUTCOME_DUPLICATE
        return peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=rc.message_id, outcome=outcome)


# ------------------------------------------------------------------------------------------------
# outbound


class PinMismatch(Unavailable):
    """The peer presented a certificate other than the pinned one; retried, since the directory may change."""


class _LinkDown(Exception):
    def __init__(self, reason: str, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        # Set when deliveries were put back due at now + delay: the link must wait exactly that long.
        self.delay = delay


class PeerLink:
    """Sends everything routed to one peer node, in order, and brings its receipts home."""

    def __init__(self, node: Node, peer: str, rng: random.Random | None = None):
        self.node = node
        self.peer = peer
        self.owner = f"{node.name}/relay/{peer}/{uuid.uuid4()}"
        self._rng = rng or random.Random()
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamStreamCall[peering_pb2.RelayRequest, peering_pb2.RelayResponse] | None = None
        self._seq = 0
        self.failures = 0
        self.wake = asyncio.Event()
        # (address, pin) of the open connection; a directory swap that changes them sets ``reconnect``.
        self.connected_to: tuple[str, bytes] | None = None
        self.reconnect = False

    async def run(self) -> None:
        settings = self.node.config.delivery
        try:
            while True:
                if self.reconnect:
                    # Between rounds, so nothing claimed is in flight when the connection goes.
                    self.reconnect = False
                    await self._close()
                try:
                    progressed = await self._round()
                    self.failures = 0
                except _LinkDown as down:
                    await self._close()
                    await asyncio.sleep(self._delay_after(down))
                    continue
                if not progressed:
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=settings.poll_interval_s)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self._close()

    def _delay_after(self, down: _LinkDown) -> float:
        self.failures += 1
        self.node.metrics.peer_down(self.peer)
        delay = down.delay if down.delay is not None else retry_delay(self.node.config.delivery, self.failures,
                                                                      self._rng)
        log.warning("peer link down", peer=self.peer, reason=down.reason, failures=self.failures,
                    retry_in_s=round(delay, 2))
        return delay

    async def _close(self) -> None:
        call, channel = self._call, self._channel
        self._call = self._channel = None
        self.connected_to = None
        if call is not None:
            call.cancel()
        if channel is not None:
            await channel.close()

    async def _connect(self) -> grpc.aio.StreamStreamCall[peering_pb2.RelayRequest, peering_pb2.RelayResponse]:
        if self._call is not None:
            return self._call
        node = self.node
        entry = node.directory.nodes.get(self.peer)
        if entry is None:
            raise _LinkDown(f"node {self.peer} is no longer in the directory")
        tls = node.config.tls
        try:
            der = await asyncio.to_thread(probe_certificate, entry.address, tls.ca, tls.cert, tls.key)
        except (OSError, GatewayError) as exc:
            raise _LinkDown(f"cannot reach {self.peer} at {entry.address}: {exc}") from None
        if hashlib.sha256(der).digest() != _pinned(entry):
            raise _LinkDown(f"{self.peer} at {entry.address} presented a certificate other than the one the "
                            "directory pins (nodes[].tls_certificate); not sending")
        self.connected_to = (entry.address, _pinned(entry))
        creds = grpc.ssl_channel_credentials(root_certificates=tls.ca.read_bytes(),
                                             private_key=tls.key.read_bytes(), certificate_chain=tls.cert.read_bytes())
        # The name check makes gRPC accept only a certificate issued to this node name by our CA.
        self._channel = grpc.aio.secure_channel(
            entry.address, creds, options=CHANNEL_OPTIONS + [("grpc.ssl_target_name_override", self.peer)])
        self._call = peering_pb2_grpc.PeeringStub(self._channel).Relay()
        return self._call

    def _relay_id(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _exchange(self, requests: list[peering_pb2.RelayRequest]) -> list[peering_pb2.RelayResponse]:
        """Write all, then read one response per request (the peer answers in order)."""
        call = await self._connect()
        try:
            for r in requests:
                await call.write(r)
            out = []
            for r in requests:
                resp = await call.read()
                if not isinstance(resp, peering_pb2.RelayResponse):
                    raise _LinkDown(f"{self.peer} closed the relay stream")
                if resp.relay_id != r.relay_id:
                    raise _LinkDown(f"{self.peer} answered relay {resp.relay_id!r} for {r.relay_id!r}")
                out.append(resp)
            return out
        except grpc.aio.AioRpcError as exc:
            raise _LinkDown(f"{self.peer}: {exc.code().name}: {exc.details()}") from None

    async def _round(self) -> bool:
        """One batch of receipts and envelopes; False when there was nothing to do."""
        store = self.node.store
        now = now_us()
        receipts = await asyncio.to_thread(store.pending_peer_receipts, self.peer, BATCH)
        due = await asyncio.to_thread(store.has_due_relay, self.peer, now)
        if not receipts and not due:
            return False
        if receipts:
            await self._send_receipts(receipts)
        if due:
            await self._send_envelopes()
        return True

    async def _send_receipts(self, pending: list) -> None:  # type: ignore[type-arg]
        store = self.node.store
        reqs = [peering_pb2.RelayRequest(relay_id=self._relay_id(), receipt=_receipt(p.receipt)) for p in pending]
        responses = await self._exchange(reqs)
        done = []
        for p, resp in zip(pending, responses):
            if resp.outcome in (peering_pb2.RELAY_OUTCOME_ACCEPTED, peering_pb2.RELAY_OUTCOME_DUPLICATE):
                done.append(p.id)
            elif resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED:
                # It can never be taken; keeping it would block the outbox. The receipt stays stored here.
                log.error("acknowledged receipt refused by origin node", peer=self.peer,
                          message_id=p.receipt.message_id, reason=resp.error.message)
                done.append(p.id)
            else:
                raise _LinkDown(f"{self.peer} could not take a receipt now: {resp.error.message}")
        await store.peer_receipts_sent(done)

    async def _send_envelopes(self) -> None:
        node, store = self.node, self.node.store
        lease_us = int(node.config.limits.visibility_timeout_s * 1_000_000)
        claimed: list[Claimed] = await store.claim(
            recipient=None, route=self.peer, owner=self.owner, limit=BATCH, now_us=now_us(), lease_us=lease_us)
        if not claimed:
            return
        groups: dict[str, list[Claimed]] = {}
        for c in claimed:
            groups.setdefault(c.message_id, []).append(c)
        reqs = [peering_pb2.RelayRequest(relay_id=self._relay_id(), envelope=g[0].envelope) for g in groups.values()]
        try:
            responses = await self._exchange(reqs)
        except _LinkDown as down:
            raise _LinkDown(down.reason, await self._put_back(claimed, down.reason)) from None
        retry: list[Claimed] = []
        for group, resp in zip(groups.values(), responses):
            if resp.outcome in (peering_pb2.RELAY_OUTCOME_ACCEPTED, peering_pb2.RELAY_OUTCOME_DUPLICATE):
                try:
                    await self._delivered(group, resp)
                except GatewayError as err:
                    log.error("receipt from peer does not verify", peer=self.peer, message_id=group[0].message_id,
                              reason=err.message)
                    retry += group
            elif resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED:
                reason = f"refused by {self.peer}: {resp.error.message}"
                log.error("relay refused", peer=self.peer, message_id=group[0].message_id, reason=reason)
                events = [audit.AuditEvent(audit.FAILED, c.message_id, subject=c.recipient,
                                           detail={"reason": reason[:200], "route": self.peer}) for c in group]
                await store.fail_many(
                    [c.delivery_id for c in group], reason, events, now_us())
                self.node.metrics.relay(self.peer, "failed", len(group))
            else:
                retry += group
        if retry:
            reason = f"{self.peer} could not take the message now"
            raise _LinkDown(reason, await self._put_back(retry, reason))

    async def _delivered(self, group: list[Claimed], resp: peering_pb2.RelayResponse) -> None:
        node, store = self.node, self.node.store
        first = group[0]
        expected = {c.recipient for c in group}
        records = []
        for r in resp.receipts:
            rc = envelope.verify_receipt(r, node.trust)
            if rc.message_id != first.message_id or rc.envelope_sha256 != first.envelope_sha256 \
                    or rc.recipient not in expected:
                raise PermissionDenied(f"receipt for {rc.recipient}/{rc.message_id} does not match what was sent")
            records.append(_record(rc, "delivered"))
        missing = expected - {r.recipient for r in records}
        if missing:
            raise PermissionDenied(f"no receipt for {', '.join(sorted(missing))}")
        events = [audit.AuditEvent(audit.RELAYED, first.message_id, actor=node.name, subject=self.peer, detail={
            "recipients": sorted(expected), "envelope_sha256": first.envelope_sha256.hex(),
            "outcome": peering_pb2.RelayOutcome.Name(resp.outcome)})]
        await store.relayed(
            [c.delivery_id for c in group], records, events, now_us())
        self.node.metrics.relay(self.peer, "relayed", len(group))
        log.info("relayed", message_id=first.message_id, peer=self.peer, recipients=sorted(expected))

    async def _put_back(self, claimed: list[Claimed], reason: str) -> float:
        store = self.node.store
        # The link waits this long before its next try; every delivery put back is due by then, so the
        # next claim takes them in their original order together with anything queued meanwhile.
        delay = retry_delay(self.node.config.delivery, self.failures + 1, self._rng)
        failed = await store.retry_later(
            [c.delivery_id for c in claimed], self.owner, reason, now_us() + int(delay * 1_000_000),
            self.node.config.delivery.max_attempts, now_us())
        self.node.metrics.relay(self.peer, "put_back", len(claimed) - len(failed))
        for mid in failed:
            log.error("delivery failed", message_id=mid, peer=self.peer, reason=reason)
        if failed:
            self.node.metrics.relay(self.peer, "failed", len(failed))
        return delay


class Relay:
    """All outbound links of a node, one per peer node in the directory."""

    def __init__(self, node: Node):
        self.node = node
        self.links: dict[str, PeerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        store = self.node.store
        for peer in sorted(self.node.directory.nodes):
            if peer == self.node.name or peer in self.links:
                continue
            if store.dialect == "sqlite":
                # One process per SQLite node: relay leases of an earlier run (a crash) are stale now.
                await store.release_all_leases(peer, now_us())
            link = PeerLink(self.node, peer)
            self.links[peer] = link
            self._tasks[peer] = asyncio.create_task(link.run(), name=f"relay-{peer}")

    async def refresh(self) -> None:
        """Follow a swapped directory: links for new peers; removed or changed peers drop their connection
        (a changed address or pin takes effect at the reconnect, a removed peer's link stops sending)."""
        await self.start()
        for name, link in self.links.items():
            entry = self.node.directory.nodes.get(name)
            if entry is None or (entry.address, _pinned(entry)) != link.connected_to:
                link.reconnect = True
                link.wake.set()

    def wake(self, peers: Sequence[str] = ()) -> None:
        for name, link in self.links.items():
            if not peers or name in peers:
                link.wake.set()

    async def stop(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        for t in self._tasks.values():
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping; the link logged its own errors
                pass
        self._tasks.clear()
        self.links.clear()
