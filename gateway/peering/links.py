"""Outbound relay: one ``PeerLink`` per peer node sends everything routed to it, in order.

Each link claims the deliveries routed to its peer, in acceptance order, and sends each envelope once per
message over one bidi stream; the peer answers with signed "delivered" receipts, and the deliveries become
DELIVERED. "acknowledged" receipts issued here for messages relayed in go back to their origin node
through the same link (outbox ``peer_receipts``).

A link that cannot reach its peer (or whose peer answers with a passing error) retries with backoff
(``gateway.peering.backoff``) for the whole link: deliveries are put back with the link's next attempt
time, so that after an outage they go out again in their original order. Permanent refusals make the
deliveries FAILED with the reason. Before a stream is opened, the certificate the peer presents is
checked against the directory's pin.

Every await of a link on its peer (TLS probe, each write, each relay answer, closing the stream) ends
within ``[peering] hang_timeout_s``, and the channel's HTTP/2 keepalive breaks a stream whose peer stops
answering, so a hung peer is a down link ("peer link down", ``swg_peer_link_up`` 0, the waiting
deliveries' ``last_error`` and next attempt). ``Relay`` supervises the link tasks: one that fails in any
other way is logged and started again after its backoff.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import structlog

from gateway import envelope
from gateway.api.swg.v1 import peering_pb2
from gateway.clock import now_us
from gateway.crypto.certificates import fingerprint
from gateway.crypto.tls_probe import probe_certificate
from gateway.crypto.trust import Purpose
from gateway.errors import GatewayError, PermissionDenied, Unavailable
from gateway.evidence import audit
from gateway.node import Node
from gateway.peering.backoff import retry_delay
from gateway.peering.channel import PeerChannel, RelayStream
from gateway.peering.receipts import pinned, receipt, record
from gateway.store import Claimed, PeerReceipt

log = structlog.get_logger("gateway.peering")

BATCH = 64
T = TypeVar("T")


def _untrusted(node: Node, der: bytes) -> str:
    """Why the trust store refuses a peer's node certificate now (revoked, expired...); "" if it is trusted."""
    try:
        node.trust.verify(der, Purpose.NODE_TLS)
    except GatewayError as err:
        return err.message
    return ""


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

    def __init__(self, node: Node, peer: str, channel: PeerChannel, rng: random.Random | None = None):
        self.node = node
        self.peer = peer
        self._transport = channel
        self.owner = f"{node.name}/relay/{peer}/{uuid.uuid4()}"
        self._rng = rng or random.Random()
        self._stream: RelayStream | None = None
        self._seq = 0
        self.failures = 0
        self.wake = asyncio.Event()
        # (address, pin) of the open connection; a directory swap that changes them sets ``reconnect``.
        self.connected_to: tuple[str, bytes] | None = None
        # The certificate the peer presented when the open connection was made (checked again on a CRL reload).
        self.connected_der: bytes | None = None
        self.reconnect = False
        self._hang = node.config.peering.hang_timeout_s
        # None until the first round that reached the peer or failed; then True (up) or False (down).
        self.up: bool | None = None

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
                    if not progressed:
                        await self._check_idle_stream()
                except _LinkDown as down:
                    await self._close()
                    await asyncio.sleep(await self._delay_after(down))
                    continue
                if progressed:
                    self._up()
                else:
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), timeout=settings.poll_interval_s)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self._close()

    async def _check_idle_stream(self) -> None:
        """An idle stream that keepalive (or the peer) ended is reported now, not at the next message."""
        stream = self._stream
        if stream is not None:
            reason = await self._bounded(stream.ended(), "state of the relay stream")
            if reason is not None:
                raise _LinkDown(f"{self.peer}: {reason}")

    def _up(self) -> None:
        if self.up is not True:
            self.up = True
            self.node.metrics.peer_up(self.peer)
            log.info("peer link up", peer=self.peer)

    async def down(self, reason: str, delay: float | None = None) -> float:
        """Report the link down (log, metric, the waiting deliveries' last_error and next attempt) and
        return how long it waits before the next try."""
        self.failures += 1
        self.up = False
        self.node.metrics.peer_down(self.peer)
        if delay is None:
            delay = retry_delay(self.node.config.delivery, self.failures, self._rng)
        log.warning("peer link down", peer=self.peer, reason=reason, failures=self.failures,
                    retry_in_s=round(delay, 2))
        try:
            await self.node.store.link_down(self.peer, reason, now_us() + int(delay * 1_000_000), now_us())
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down too: the log line above still tells
            log.warning("peer link down not recorded on its deliveries", peer=self.peer, error=repr(exc))
        return delay

    async def _delay_after(self, down: _LinkDown) -> float:
        return await self.down(down.reason, down.delay)

    async def _bounded(self, aw: Awaitable[T], what: str) -> T:
        """Every await on the peer ends within hang_timeout_s: a peer that answers nothing is down."""
        try:
            return await asyncio.wait_for(aw, self._hang)
        except asyncio.TimeoutError:
            raise _LinkDown(f"{self.peer} did not answer ({what}) within {self._hang:g} s "
                            "([peering] hang_timeout_s)") from None

    async def _close(self) -> None:
        stream = self._stream
        self._stream = None
        self.connected_to = None
        self.connected_der = None
        if stream is not None:
            try:
                await asyncio.wait_for(stream.close(), self._hang)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - the connection is dropped anyway
                log.warning("peer link close did not finish", peer=self.peer, error=repr(exc))

    async def _connect(self) -> RelayStream:
        if self.reconnect and self._stream is not None:
            # Set by a CRL reload or a directory swap; nothing is in flight between two exchanges.
            self.reconnect = False
            await self._close()
        if self._stream is not None:
            return self._stream
        node = self.node
        entry = node.directory.nodes.get(self.peer)
        if entry is None:
            raise _LinkDown(f"node {self.peer} is no longer in the directory")
        tls = node.config.tls
        try:
            # The socket timeout bounds the TCP connect and the TLS handshake each.
            der = await asyncio.to_thread(probe_certificate, entry.address, tls.ca, tls.cert, tls.key, self._hang)
        except (OSError, GatewayError) as exc:
            raise _LinkDown(f"cannot reach {self.peer} at {entry.address}: {exc}") from None
        if fingerprint(der) != pinned(entry):
            raise _LinkDown(f"{self.peer} at {entry.address} presented a certificate other than the one the "
                            "directory pins (nodes[].tls_certificate); not sending")
        untrusted = _untrusted(node, der)
        if untrusted:
            raise _LinkDown(f"{self.peer} at {entry.address} presented a certificate the federation no longer "
                            f"trusts ({untrusted}); not sending")
        self.connected_to = (entry.address, pinned(entry))
        self.connected_der = der
        self._stream = self._transport.open(entry.address, self.peer, ca=tls.ca, cert=tls.cert, key=tls.key,
                                            hang_timeout_s=self._hang)
        return self._stream

    def _relay_id(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _exchange(self, requests: list[peering_pb2.RelayRequest]) -> list[peering_pb2.RelayResponse]:
        """Write all, then read one response per request (the peer answers in order)."""
        call = await self._connect()
        try:
            for r in requests:
                await self._bounded(call.write(r), f"relay {r.relay_id} not taken")
            out = []
            for r in requests:
                resp = await self._bounded(call.read(), f"no answer to relay {r.relay_id}")
                if resp is None:
                    raise _LinkDown(f"{self.peer} closed the relay stream")
                if resp.relay_id != r.relay_id:
                    raise _LinkDown(f"{self.peer} answered relay {resp.relay_id!r} for {r.relay_id!r}")
                out.append(resp)
            return out
        except Unavailable as exc:  # the stream broke; its message names the status
            raise _LinkDown(f"{self.peer}: {exc.message}") from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the link is being stopped
            # The stream's call was cancelled under us (its channel went away): a broken stream.
            raise _LinkDown(f"{self.peer}: the relay stream was cancelled") from None

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

    async def _send_receipts(self, pending: list[PeerReceipt]) -> None:
        store = self.node.store
        reqs = [peering_pb2.RelayRequest(relay_id=self._relay_id(), receipt=receipt(p.receipt)) for p in pending]
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
        except Exception as exc:  # noqa: BLE001 - unforeseen: put the batch back, the supervisor restarts the link
            await self._put_back(claimed, f"{self.peer}: relay failed: {exc!r}"[:300])
            raise
        busy = f"{self.peer} could not take the message now"
        # Put back under the reason operators should read in GetStatus/last_error, grouped by reason.
        retry: dict[str, list[Claimed]] = {}
        for group, resp in zip(groups.values(), responses):
            if resp.outcome in (peering_pb2.RELAY_OUTCOME_ACCEPTED, peering_pb2.RELAY_OUTCOME_DUPLICATE):
                try:
                    await self._delivered(group, resp)
                except GatewayError as err:
                    log.error("receipt from peer does not verify", peer=self.peer, message_id=group[0].message_id,
                              reason=err.message)
                    retry.setdefault(f"{self.peer} answered with a receipt not taken: {err.message}"[:300],
                                     []).extend(group)
            elif resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED:
                reason = f"refused by {self.peer}: {resp.error.message}"
                log.error("relay refused", peer=self.peer, message_id=group[0].message_id, reason=reason)
                events = [audit.AuditEvent(audit.FAILED, c.message_id, subject=c.recipient,
                                           detail={"reason": reason[:200], "route": self.peer}) for c in group]
                await store.fail_many(
                    [c.delivery_id for c in group], reason, events, now_us())
                self.node.metrics.relay(self.peer, "failed", len(group))
            else:
                retry.setdefault(busy, []).extend(group)
        if retry:
            delays = [await self._put_back(claims, reason) for reason, claims in retry.items()]
            raise _LinkDown(next(iter(retry)), max(delays))

    async def _delivered(self, group: list[Claimed], resp: peering_pb2.RelayResponse) -> None:
        node, store = self.node, self.node.store
        first = group[0]
        expected = {c.recipient for c in group}
        records = []
        for r in resp.receipts:
            rc = envelope.verify_receipt(r, node.trust, pq_keys=node.view, policy=node.view.crypto)
            if rc.message_id != first.message_id or rc.envelope_sha256 != first.envelope_sha256 \
                    or rc.recipient not in expected:
                raise PermissionDenied(f"receipt for {rc.recipient}/{rc.message_id} does not match what was sent")
            # The signed payload is stored and shown as it is: a receipt relayed back by this peer must say
            # the peer issued it (as the inbound side requires of receipts relayed to this node).
            if rc.issuing_node != self.peer:
                raise PermissionDenied(f"receipt for {rc.recipient}/{rc.message_id} names issuing node "
                                       f"{rc.issuing_node[:64]!r}, not {self.peer}")
            records.append(record(rc, "delivered"))
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

    def __init__(self, node: Node, channel: PeerChannel):
        self.node = node
        self._channel = channel
        self.links: dict[str, PeerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def start(self) -> None:
        store = self.node.store
        for peer in sorted(self.node.directory.nodes):
            if peer == self.node.name or peer in self.links:
                continue
            if store.dialect == "sqlite":
                # One process per SQLite node: relay leases of an earlier run (a crash) are stale now.
                await store.release_all_leases(peer, now_us())
            link = PeerLink(self.node, peer, self._channel)
            self.links[peer] = link
            self._tasks[peer] = asyncio.create_task(self._supervise(link), name=f"relay-{peer}")

    async def _supervise(self, link: PeerLink) -> None:
        """Run a link for good: a link task that fails (anything but being stopped) is logged, reported
        down, and started again after its backoff, so that a link always recovers by itself."""
        while not self._stopping:
            try:
                await link.run()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                reason = "the link task was cancelled from inside"
            except Exception as exc:  # noqa: BLE001 - whatever it was, the link must come back
                log.exception("peer link task failed", peer=link.peer, error=repr(exc))
                reason = f"the link task failed: {exc!r}"
            else:
                reason = "the link task ended"
            if self._stopping:
                return
            delay = await link.down(reason[:300])
            await asyncio.sleep(delay)

    async def refresh(self) -> None:
        """Follow a swapped directory: links for new peers; removed or changed peers drop their connection
        (a changed address or pin takes effect at the reconnect, a removed peer's link stops sending)."""
        await self.start()
        for name, link in self.links.items():
            entry = self.node.directory.nodes.get(name)
            if entry is None or (entry.address, pinned(entry)) != link.connected_to:
                link.reconnect = True
                link.wake.set()

    def close_revoked(self) -> list[tuple[str, str]]:
        """After a CRL reload: links connected to a peer whose certificate is no longer trusted drop their
        connection (between batches); the reconnect checks the certificate again and refuses it."""
        dropped = []
        for name, link in self.links.items():
            der = link.connected_der
            reason = _untrusted(self.node, der) if der is not None else ""
            if reason:
                link.reconnect = True
                link.wake.set()
                dropped.append((name, reason))
        return dropped

    def wake(self, peers: Sequence[str] = ()) -> None:
        for name, link in self.links.items():
            if not peers or name in peers:
                link.wake.set()

    async def stop(self) -> None:
        self._stopping = True
        pending = set(self._tasks.values())
        while pending:
            # Cancelled again until they end: a cancellation swallowed inside a link (asyncio.wait_for can,
            # on Python 3.11) must not hang the node's stop.
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for t in self._tasks.values():
            if not t.cancelled() and t.exception() is not None:  # stopping; the link logged its own errors
                log.debug("relay link ended with an error at stop", error=repr(t.exception()))
        self._tasks.clear()
        self.links.clear()
