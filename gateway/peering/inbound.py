"""The receiving side of Peering.Relay: which peer may call, and what it may relay.

A caller must be a peer node presenting exactly the TLS certificate the directory pins for it. Each
envelope must verify, come from a sender hosted by that peer, name a recipient hosted here, be unexpired,
and be routable (the recipient's access right on the document itself): only the node hosting a recipient
opens the envelope, with that recipient's key. Permanent refusals are audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from adapters import registry
from gateway import envelope
from gateway.api.swg.v1 import envelope_pb2, peering_pb2
from gateway.clock import now_us
from gateway.crypto.tokens import Identity
from gateway.errors import (FailedPrecondition, FieldViolation, GatewayError, InvalidArgument, NotFound,
                            PermissionDenied)
from gateway.ids import MESSAGE_ID_RULE, is_message_id, is_participant_id
from gateway.evidence import audit
from gateway.node import Node
from gateway.peering.receipts import pinned, receipt, record, ts_us
from gateway.store import NewDelivery, NewMessage

log = structlog.get_logger("gateway.peering")


def check_peer(node: Node, ident: Identity) -> str:
    """The calling node, if its TLS certificate is exactly the one the directory names for it."""
    if ident.kind != "node":
        raise PermissionDenied("Relay is for peer nodes (node TLS certificate) only")
    entry = node.directory.nodes.get(ident.principal)
    if entry is None or ident.principal == node.name:
        raise PermissionDenied(f"node {ident.principal!r} is not a peer in the directory")
    if pinned(entry) != ident.cert_sha256:
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
        _check_header_ids(h)
        sender = node.directory.participants.get(h.sender)
        if sender is None or sender.node != peer:
            raise PermissionDenied(f"sender {h.sender} is not hosted by node {peer}")
        hosted = [r for r in h.recipients if r in node.keys]
        if not hosted:
            raise NotFound(f"none of the recipients {', '.join(h.recipients)} is hosted by node {node.name}")
        now = now_us()
        if ts_us(h.expires_at) <= now:
            raise FailedPrecondition(f"message {h.message_id} expired before it arrived")
        # Only a recipient's node opens the envelope: to check the access right on the document itself.
        opened = await asyncio.to_thread(envelope.open, req.envelope, node.keys[hosted[0]], node.trust)
        doc_cls = registry.DOCUMENT_TYPES.get(h.document_type)
        if doc_cls is None:
            raise InvalidArgument(f"unknown document type {h.document_type}")
        doc = doc_cls.FromString(opened.payload)
        decision = await asyncio.to_thread(node.router.route, sender=h.sender, document_type=h.document_type,
                                           doc=doc, explicit=hosted, in_reply_to=h.in_reply_to, relayed=True)
        receipts = []
        for r in hosted:
            rc = envelope.issue_receipt(message_id=h.message_id, envelope_sha256=verified.sha256,
                                        recipient=node.keys[r], issuing_node=node.name)
            receipts.append(record(rc, "delivered"))
        msg = NewMessage(
            message_id=h.message_id, conversation_id=h.conversation_id, in_reply_to=h.in_reply_to, sender=h.sender,
            document_type=h.document_type, submit_sha256=None, envelope=req.envelope,
            envelope_sha256=verified.sha256, created_us=ts_us(h.created_at), expires_us=ts_us(h.expires_at),
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
                                         receipts=[receipt(s) for s in stored])

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
        fresh = await store.peer_acknowledged(record(rc, "acknowledged"), peer, ev, now_us())
        outcome = peering_pb2.RELAY_OUTCOME_ACCEPTED if fresh else peering_pb2.RELAY_OUTCOME_DUPLICATE
        return peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=rc.message_id, outcome=outcome)


def _check_header_ids(h: envelope_pb2.EnvelopeHeader) -> None:
    """A relayed envelope's ids obey the rules of a local submit: a peer (or a sender on it) must not put
    into this node's store, audit log or a recipient's file names what a local caller could not."""
    problems = [FieldViolation(f"header.{name}", MESSAGE_ID_RULE)
                for name in ("message_id", "conversation_id", "in_reply_to")
                if (value := getattr(h, name)) and not is_message_id(value)]
    if not h.message_id:
        problems.append(FieldViolation("header.message_id", "required"))
    if not is_participant_id(h.sender):
        problems.append(FieldViolation("header.sender", "not a participant id"))
    problems += [FieldViolation(f"header.recipients[{i}]", "not a participant id")
                 for i, r in enumerate(h.recipients) if not is_participant_id(r)]
    if problems:
        raise InvalidArgument("relayed envelope carries malformed ids", violations=problems)
