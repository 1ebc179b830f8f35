"""The receiving side of Peering.Relay: which peer may call, and what it may relay.

A caller must be a peer node presenting exactly the TLS certificate the directory pins for it. A peer is
trusted no more than a local submitter: each envelope must verify, come from a sender hosted by that peer,
name a recipient hosted here, and its header must obey the rules of a local submit (ids, expiry within
``limits.max_ttl_s``, at most ``limits.max_recipients`` distinct participants of the directory, a known
document type and format). Only the node hosting a recipient opens the envelope, with that recipient's
key: the document gets the validation of a local submit (``adapters.validation``, the profile of the format
it was submitted in) and must be routable (the access right on the document itself; an assistance answer
must answer an open case). Nothing is stored before all of that passed. An "acknowledged" receipt is taken
only from a recipient of the message whose delivery went to that peer. Permanent refusals go back as
REJECTED with the reason (field paths included) and are audited.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from adapters import registry, validation
from adapters.errors import DocumentError, UnknownFormat
from gateway import envelope
from gateway.api.swg.v1 import envelope_pb2, peering_pb2
from gateway.clock import now_us
from gateway.crypto.tokens import Identity
from gateway.errors import (FailedPrecondition, FieldViolation, GatewayError, InvalidArgument, NotFound,
                            PermissionDenied)
from gateway.federation import Directory
from gateway.ids import MESSAGE_ID_RULE, is_message_id, is_participant_id
from gateway.evidence import audit
from gateway.node import Node
from gateway.peering.receipts import pinned, receipt, record, ts_us
from gateway.store import NewDelivery, NewMessage

log = structlog.get_logger("gateway.peering")

# How far the peer's clock may be ahead of ours in created_at and expires_at (as tokens.leeway_s does).
CLOCK_SKEW_US = 300 * 1_000_000
# Characters of a refusal's reason (its first field violations included) kept in the audit entry.
AUDIT_REASON_CHARS = 300


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
        seen: dict[str, str] = {}  # the message id, once it is known to be well-formed
        try:
            if which == "envelope":
                return InboundResult(await self._envelope(peer, req, seen))
            if which == "receipt":
                return InboundResult(await self._ack_receipt(peer, req, seen))
            raise InvalidArgument("RelayRequest carries neither an envelope nor a receipt")
        except GatewayError as err:
            permanent = not err.retryable
            outcome = peering_pb2.RELAY_OUTCOME_REJECTED if permanent else peering_pb2.RELAY_OUTCOME_UNSPECIFIED
            reason = _reason(err)
            log.warning("relay refused", peer=peer, relay_id=req.relay_id, message_id=seen.get("message_id", ""),
                        item=which, code=err.grpc_code, reason=reason, permanent=permanent)
            if permanent and which is not None:
                self.node.store.append_audit([audit.AuditEvent(
                    audit.REFUSED, seen.get("message_id", ""), actor=peer, detail={
                        "reason": reason, "code": err.grpc_code, "via": "relay", "item": which})], now_us())
            return InboundResult(peering_pb2.RelayResponse(relay_id=req.relay_id, outcome=outcome), err)

    async def _envelope(self, peer: str, req: peering_pb2.RelayRequest,
                        seen: dict[str, str]) -> peering_pb2.RelayResponse:
        node = self.node
        # The directory binds the sender's ML-DSA key and says whether classic is still accepted (no downgrade).
        view = node.view
        verified = await asyncio.to_thread(functools.partial(envelope.verify, req.envelope, node.trust,
                                                             pq_keys=view, policy=view.crypto))
        h = verified.header
        limits = node.config.limits
        _check_header_ids(h, limits.max_recipients)
        seen["message_id"] = h.message_id
        sender = node.directory.participants.get(h.sender)
        if sender is None or sender.node != peer:
            raise PermissionDenied(f"sender {h.sender} is not hosted by node {peer}")
        now = now_us()
        if h.HasField("expires_at") and ts_us(h.expires_at) <= now:
            raise FailedPrecondition(f"message {h.message_id} expired before it arrived")
        profile = _check_header(h, node.directory, limits.max_ttl_s, now)
        hosted = [r for r in h.recipients if r in node.keys]
        if not hosted:
            raise NotFound(f"none of the recipients {', '.join(h.recipients)} is hosted by node {node.name}")
        await asyncio.to_thread(self._check_reply, h)
        # Only a recipient's node opens the envelope: to check the document as a local submit would, and the
        # access right on the document itself.
        opened = await asyncio.to_thread(functools.partial(envelope.open, req.envelope, node.keys[hosted[0]],
                                                           node.trust, pq_keys=view, policy=view.crypto))
        doc = _document(h, opened.payload, profile, limits.max_message_bytes, node.directory.rules)
        decision = await asyncio.to_thread(node.router.route, sender=h.sender, document_type=h.document_type,
                                           doc=doc, explicit=hosted, in_reply_to=h.in_reply_to,
                                           message_id=h.message_id, relayed=True,
                                           conversation_id=h.conversation_id)
        if dict(h.routing_attributes) != decision.attributes:
            raise InvalidArgument("relayed envelope's routing attributes are not those of its document", violations=[
                FieldViolation("header.routing_attributes", "differ from the attributes of the document "
                                                            f"({', '.join(sorted(decision.attributes)) or 'none'})")])
        receipts = []
        for r in hosted:
            keys = node.keys[r]
            rc = envelope.issue_receipt(message_id=h.message_id, envelope_sha256=verified.sha256,
                                        recipient=keys, issuing_node=node.name,
                                        profile=envelope.receipt_profile(view.crypto, envelope.profile_of(h),
                                                                         keys.pq_signing_key is not None))
            receipts.append(record(rc, "delivered"))
        msg = NewMessage(
            message_id=h.message_id, conversation_id=h.conversation_id, in_reply_to=h.in_reply_to, sender=h.sender,
            document_type=h.document_type, submit_sha256=None, envelope=req.envelope,
            envelope_sha256=verified.sha256, created_us=ts_us(h.created_at), expires_us=ts_us(h.expires_at),
            accepted_us=now, origin=peer, attributes=decision.attributes, item_ids=decision.item_ids,
            deliveries=tuple(NewDelivery(r, "local") for r in hosted),
            audit_event=audit.AuditEvent(audit.RELAY_RECEIVED, h.message_id, actor=peer, subject=h.sender, detail={
                "document_type": h.document_type, "recipients": hosted, "envelope_sha256": verified.sha256.hex(),
                "conversation_id": h.conversation_id}))
        store = node.store
        accepted, stored = await store.accept_relayed(msg, receipts)
        if not accepted.duplicate:
            log.info("relay received", message_id=h.message_id, peer=peer, sender=h.sender,
                     document_type=h.document_type, recipients=hosted)
            # Case metadata before the recipients are woken: an answer they send at once is checked against it.
            if self._on_stored is not None:
                await self._on_stored(h, doc)
            self._notify(hosted)
        outcome = peering_pb2.RELAY_OUTCOME_DUPLICATE if accepted.duplicate else peering_pb2.RELAY_OUTCOME_ACCEPTED
        return peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=h.message_id, outcome=outcome,
                                         receipts=[receipt(s) for s in stored])

    def _check_reply(self, h: envelope_pb2.EnvelopeHeader) -> None:
        """Like a local submit's in_reply_to: a message stored here that the sender neither sent nor received
        is not one it can answer (a message unknown here is another node's business)."""
        if not h.in_reply_to:
            return
        store = self.node.store
        parties = store.parties_of(h.in_reply_to)
        if parties is None or h.sender == parties[0] or h.sender in parties[2]:
            return
        # Its recipients on other nodes are only in its (signed, stored) header.
        stored = envelope_pb2.Envelope.FromString(store.envelope(h.in_reply_to))
        if h.sender in envelope_pb2.EnvelopeHeader.FromString(stored.header).recipients:
            return
        raise InvalidArgument("relayed envelope answers a message its sender took no part in", violations=[
            FieldViolation("header.in_reply_to", f"names a message {h.sender} neither sent nor received")])

    async def _ack_receipt(self, peer: str, req: peering_pb2.RelayRequest,
                           seen: dict[str, str]) -> peering_pb2.RelayResponse:
        node = self.node
        # The signature is checked against the recipient's own certificate (the JWS signer must be rcp).
        rc = await asyncio.to_thread(functools.partial(envelope.verify_receipt, req.receipt, node.trust,
                                                       pq_keys=node.view, policy=node.view.crypto))
        if is_message_id(rc.message_id):
            seen["message_id"] = rc.message_id
        entry = node.directory.participants.get(rc.recipient)
        if entry is None or entry.node != peer:
            raise PermissionDenied(f"receipt recipient {rc.recipient} is not hosted by node {peer}")
        # The signed payload's other fields are stored and shown as they are: they must be what they claim.
        if rc.issuing_node != peer:
            raise PermissionDenied(f"a receipt relayed by node {peer} names another issuing node")
        if ts_us(rc.received_at) > now_us() + CLOCK_SKEW_US:
            raise InvalidArgument("receipt is dated in the future", violations=[
                FieldViolation("receipt.received_at", "is in the future")])
        try:
            status = await asyncio.to_thread(node.store.status, rc.message_id)
        except NotFound:
            raise InvalidArgument(f"receipt names no message {rc.message_id!r} sent from this node") from None
        msg = status.message
        if msg.origin != "local" or msg.envelope_sha256 != rc.envelope_sha256:
            raise InvalidArgument(f"receipt does not match message {rc.message_id} sent from this node")
        # Only the message's own recipients acknowledge it, each through the node its delivery went to.
        if not any(d.recipient == rc.recipient and d.route == peer for d in status.deliveries):
            raise PermissionDenied(f"{rc.recipient} is not a recipient of message {rc.message_id} delivered "
                                   f"through node {peer}; its receipt is not taken")
        store = node.store
        ev = audit.AuditEvent(audit.ACKNOWLEDGED, rc.message_id, actor=rc.recipient, subject=peer, detail={
            "envelope_sha256": rc.envelope_sha256.hex(), "receipt": "relayed"})
        fresh = await store.peer_acknowledged(record(rc, "acknowledged"), peer, ev, now_us())
        outcome = peering_pb2.RELAY_OUTCOME_ACCEPTED if fresh else peering_pb2.RELAY_OUTCOME_DUPLICATE
        return peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=rc.message_id, outcome=outcome)


def _reason(err: GatewayError) -> str:
    """The refusal with its first field violations (path: reason), short enough for an audit entry."""
    text = err.message
    if err.violations:
        text += ": " + "; ".join(str(v) for v in err.violations[:3])
        if len(err.violations) > 3:
            text += f" (+{len(err.violations) - 3} more)"
    return text if len(text) <= AUDIT_REASON_CHARS else text[:AUDIT_REASON_CHARS - 3] + "..."


def _check_header_ids(h: envelope_pb2.EnvelopeHeader, max_recipients: int | None = None) -> None:
    """A relayed envelope's ids obey the rules of a local submit: a peer (or a sender on it) must not put
    into this node's store, audit log or a recipient's file names what a local caller could not."""
    if max_recipients is not None and len(h.recipients) > max_recipients:
        raise InvalidArgument("relayed envelope has too many recipients", violations=[FieldViolation(
            "header.recipients", f"{len(h.recipients)} recipients; at most {max_recipients} per message "
                                 "(limits.max_recipients)")])
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


def _check_header(h: envelope_pb2.EnvelopeHeader, directory: Directory, max_ttl_s: int, now: int) -> str:
    """The rest of a local submit's rules for a relayed header (ids and their number are checked already);
    returns the validation profile of the format the document was submitted in."""
    problems: list[FieldViolation] = []
    if not h.recipients:
        problems.append(FieldViolation("header.recipients", "required"))
    first: dict[str, int] = {}
    for i, r in enumerate(h.recipients):
        if r in first:
            problems.append(FieldViolation(f"header.recipients[{i}]", f"repeats recipients[{first[r]}]"))
        elif r not in directory.participants:
            problems.append(FieldViolation(f"header.recipients[{i}]", "not a participant of the federation"))
        first.setdefault(r, i)
    profile = validation.PROFILE_AED
    if h.document_type not in registry.DOCUMENT_TYPES:
        problems.append(FieldViolation("header.document_type", "unknown document type; one of "
                                       + ", ".join(sorted(registry.DOCUMENT_TYPES))))
    else:
        try:
            fmt = registry.get(h.source_format)
        except UnknownFormat:
            problems.append(FieldViolation("header.source_format", "not a format this node knows"))
        else:
            if fmt.document_type != h.document_type:
                problems.append(FieldViolation("header.source_format", f"{fmt.name} carries {fmt.document_type}, "
                                                                       f"not {h.document_type}"))
            profile = fmt.validation_profile
    created = ts_us(h.created_at) if h.HasField("created_at") else None
    if created is None:
        problems.append(FieldViolation("header.created_at", "required"))
    elif created > now + CLOCK_SKEW_US:
        problems.append(FieldViolation("header.created_at", "is in the future"))
    if not h.HasField("expires_at"):
        problems.append(FieldViolation("header.expires_at", "required"))
    else:
        expires = ts_us(h.expires_at)
        if expires > now + max_ttl_s * 1_000_000 + CLOCK_SKEW_US:
            problems.append(FieldViolation("header.expires_at", f"is more than {max_ttl_s} s ahead "
                                                                "(limits.max_ttl_s of this node)"))
        elif created is not None and expires <= created:
            problems.append(FieldViolation("header.expires_at", "is not after header.created_at"))
    if problems:
        raise InvalidArgument("relayed envelope's header breaks the rules of a local submit", violations=problems)
    return profile


def _document(h: envelope_pb2.EnvelopeHeader, payload: bytes, profile: str, max_bytes: int,
              classes: dict[str, dict[str, str]] | None = None) -> Any:
    """The relayed payload as a local submit of its canonical protobuf would be checked: size, structure,
    then every rule of ``adapters.validation`` (text, ids, amounts...) for the profile of its format."""
    if len(payload) > max_bytes:
        raise InvalidArgument("relayed document is too large", violations=[FieldViolation(
            "payload", f"{len(payload)} bytes; this node accepts at most {max_bytes} (limits.max_message_bytes)")])
    try:
        doc = registry.get(h.document_type).decode(payload)
        # With the directory's rule classes: an item the sender's node accepted with a warning is not refused here.
        validation.check(h.document_type, doc, profile=profile, classes=classes)
    except DocumentError as exc:
        raise InvalidArgument(f"the relayed {h.document_type} document is invalid",
                              violations=[FieldViolation(v.path, v.reason) for v in exc.violations]) from None
    return doc
