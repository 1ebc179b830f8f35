"""Accepting a submitted document: check → decode → route → seal → one durable transaction.

The answer to a submit is produced only after the group-commit writer has committed the sealed
envelope, its deliveries and its audit entry. A refused submit stores nothing but an audit entry
saying who was refused and why (no payload).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from adapters import registry, validation
from adapters.errors import DocumentError, UnknownFormat, Violation
from gateway import ids
from gateway import envelope
from gateway.evidence import audit
from gateway.evidence import kpi
from gateway.exchange import sizes
from gateway.api.swg.v1 import envelope_pb2, exchange_pb2
from gateway.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    GatewayError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    TrustError,
)
from gateway.clock import now_us, timestamp_us
from gateway.crypto.trust import Purpose
from gateway.node import Node
from gateway.federation.routing import RouteDecision, attributes_of, entries_subset, route_for
from gateway.federation.view import DirectoryView
from gateway.store import Accepted, NewDelivery, NewMessage

log = structlog.get_logger("gateway.exchange.submission")



@dataclass(frozen=True)
class Submitted:
    response: exchange_pb2.SubmitResponse
    local_recipients: tuple[str, ...]


def submit_digest(req: exchange_pb2.SubmitRequest) -> bytes:
    """Idempotency fingerprint: everything the submitter sent except the id itself."""
    # Cleared in place and put back rather than copied: a copy of the whole request cost more than its hash.
    message_id = req.message_id
    req.message_id = ""
    try:
        return hashlib.sha256(req.SerializeToString(deterministic=True)).digest()
    finally:
        req.message_id = message_id


def sealing_certificate(node: Node, view: DirectoryView, participant: str) -> envelope.RecipientCertificate:
    """The directory's encryption certificate of ``participant``, if the federation still trusts it: a
    certificate revoked in the CRL (or expired, or not the CA's) is never sealed to."""
    cert = view.recipient_certificate(participant)
    try:
        named = node.trust.verify(cert.certificate, Purpose.ENCRYPTION)
    except TrustError as err:
        raise FailedPrecondition(f"the directory's encryption certificate of recipient {participant} is not "
                                 f"trusted ({err.message}); nothing can be sealed to it until the directory "
                                 "publishes a valid one") from None
    if named != participant:
        raise FailedPrecondition(f"the directory's encryption certificate of recipient {participant} names "
                                 f"{named}; nothing can be sealed to it")
    return cert


def sealing_profile(view: DirectoryView, keys: envelope.ParticipantKeys,
                    certs: Sequence[envelope.RecipientCertificate]) -> str:
    """The crypto profile to seal under (docs/federation.md, "Crypto profiles"): hybrid-pq during the
    transition window when the sender and every recipient announce PQ keys, always after it."""
    announced = (keys.pq_signing_key is not None and keys.pq_encryption_key is not None
                 and view.announces_pq(keys.participant) and all(c.pq_key is not None for c in certs))
    profile = view.crypto.sealing_profile(announced)
    if profile == envelope.HYBRID_PQ and not announced:
        lacking = [c.participant for c in certs if c.pq_key is None]
        who = ", ".join(lacking) if lacking else f"{keys.participant} (its ML-DSA-65/ML-KEM-768 keys on this node)"
        raise FailedPrecondition(f"the federation accepts only hybrid-pq envelopes, but {who} has no post-quantum "
                                 "keys; nothing can be sealed until the directory and node config list them")
    return profile


def _ts(us: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def _response(acc: Accepted, warnings: Sequence[Violation] = (),
              items: Sequence[exchange_pb2.ItemOutcome] = ()) -> exchange_pb2.SubmitResponse:
    return exchange_pb2.SubmitResponse(
        message_id=acc.message_id, conversation_id=acc.conversation_id, duplicate=acc.duplicate,
        document_type=acc.document_type, recipients=list(acc.recipients), accepted_at=_ts(acc.accepted_us),
        warnings=[exchange_pb2.FieldWarning(field=w.path, description=w.reason) for w in warnings],
        items=items)


def _fields(found: Sequence[Violation]) -> list[exchange_pb2.FieldWarning]:
    return [exchange_pb2.FieldWarning(field=v.path, description=v.reason) for v in found]


def item_outcomes(checked: registry.PerItem, message_id: str,
                  where: dict[int, tuple[str, tuple[str, ...]]]) -> list[exchange_pb2.ItemOutcome]:
    """One outcome per item of a document accepted (wholly or in part) as ``message_id``; ``where``: the
    message and recipients of each accepted item, by its index in the document."""
    out = []
    for i in checked.items:
        carried, recipients = ("", ()) if i.problems else where.get(i.index, (message_id, ()))
        out.append(exchange_pb2.ItemOutcome(index=i.index, item_id=i.item_id, path=i.path, accepted=not i.problems,
                                            message_id=carried, recipients=recipients,
                                            violations=_fields(i.problems), warnings=_fields(i.warnings)))
    return out


def _flag(doc: Message, checked: registry.PerItem) -> None:
    """Mark each item with the warning rules it breaks (``swg:data-quality`` extension, rule ids), for the
    recipient customs' risk assessment; the key is the gateway's: a value the sender put there is removed."""
    key = validation.DATA_QUALITY_EXTENSION
    for item, check in zip(doc.items, checked.items, strict=True):  # type: ignore[attr-defined]
        if check.flags:
            item.extensions[key] = ",".join(check.flags)
        elif key in item.extensions:
            del item.extensions[key]


def _routes_of(document_type: str, doc: Message) -> list[tuple[str, tuple[int, ...]]]:
    """An AED's items grouped by destination country, in order of first appearance."""
    if document_type != registry.AED:
        return []
    groups: dict[str, list[int]] = {}
    for n, item in enumerate(doc.items):  # type: ignore[attr-defined]
        groups.setdefault(item.destination_country, []).append(n)
    return [(country, tuple(indices)) for country, indices in groups.items()]


def _route_id(message_id: str, country: str) -> str:
    """``<message id>.to-<CC>``, within the 128 characters of a message id."""
    suffix = f".to-{country or 'none'}"
    return message_id[:128 - len(suffix)] + suffix


# Item outcomes are recorded in the accepted message's audit entry (durable in the same transaction), so
# that a retried submit answers exactly what the first did, even after the directory's rules changed.
def _outcomes_detail(outcomes: Sequence[exchange_pb2.ItemOutcome]) -> list[list[object]]:
    return [[o.index, o.item_id, o.path, o.message_id, [[v.field, v.description] for v in o.violations],
             [[w.field, w.description] for w in o.warnings], list(o.recipients)] for o in outcomes]


def _outcomes_from_detail(rows: list[Any]) -> list[exchange_pb2.ItemOutcome]:
    out = []
    for index, item_id, path, message_id, violations, warnings, recipients in rows:
        out.append(exchange_pb2.ItemOutcome(
            index=int(index), item_id=str(item_id), path=str(path), accepted=bool(message_id),
            message_id=str(message_id), recipients=[str(r) for r in recipients],
            violations=[exchange_pb2.FieldWarning(field=f, description=d) for f, d in violations],
            warnings=[exchange_pb2.FieldWarning(field=f, description=d) for f, d in warnings]))
    return out


class Submitter:
    def __init__(self, node: Node, on_accepted: Callable[[tuple[str, ...]], None]):
        self.node = node
        self._on_accepted = on_accepted
        # Follow-up work on a newly accepted document (assistance cases, revenue notices); set by the server.
        self.on_document: Callable[[envelope_pb2.EnvelopeHeader, Message], Awaitable[None]] | None = None
        # Refusals go to the audit log counted per participant and kind, never one row each.
        self.refusals = audit.RefusalTally(node.store.append_audit)

    def _check_request(self, req: exchange_pb2.SubmitRequest) -> None:
        limit = self.node.config.limits.max_message_bytes
        if len(req.content) > limit:
            raise ResourceExhausted(f"content is {len(req.content)} bytes; this node accepts at most {limit} bytes "
                                    "per message (limits.max_message_bytes)")
        problems: list[FieldViolation] = []
        if not req.format:
            problems.append(FieldViolation("format", "required; one of " + ", ".join(registry.known_formats())))
        if not req.content:
            problems.append(FieldViolation("content", "required; the document bytes are empty"))
        for name in ("message_id", "conversation_id", "in_reply_to"):
            value = getattr(req, name)
            if value and not ids.is_message_id(value):
                problems.append(FieldViolation(name, ids.MESSAGE_ID_RULE))
        for i, r in enumerate(req.recipients):
            if not r:
                problems.append(FieldViolation(f"recipients[{i}]", "empty participant id"))
        max_recipients = self.node.config.limits.max_recipients
        if len(req.recipients) > max_recipients:
            problems.append(FieldViolation("recipients", f"{len(req.recipients)} recipients; at most {max_recipients} "
                                                         "per message (limits.max_recipients)"))
        if req.HasField("expires_at"):
            exp = timestamp_us(req.expires_at)
            now = now_us()
            if exp <= now:
                problems.append(FieldViolation("expires_at", "is in the past"))
            elif exp > now + self.node.config.limits.max_ttl_s * 1_000_000:
                problems.append(FieldViolation("expires_at", f"is more than {self.node.config.limits.max_ttl_s} s "
                                                             "ahead (limits.max_ttl_s)"))
        if problems:
            raise InvalidArgument("invalid submit request", violations=problems)

    async def _duplicate(self, req: exchange_pb2.SubmitRequest, digest: bytes, sender: str) -> Submitted | None:
        if not req.message_id:
            return None
        found = await asyncio.to_thread(self.node.store.message_exists, req.message_id)
        if found is None:
            return None
        stored_digest, stored_sender = found
        if stored_sender != sender or stored_digest != digest:
            raise AlreadyExists(f"message_id {req.message_id!r} is already used for different content")
        st = await asyncio.to_thread(self.node.store.status, req.message_id)
        acc = Accepted(st.message.message_id, st.message.conversation_id, st.message.document_type,
                       tuple(d.recipient for d in st.deliveries), st.message.accepted_us, True,
                       st.message.envelope_sha256)
        items = await self._first_answer(req, acc)
        warnings = [Violation(w.field, w.description) for o in items for w in o.warnings]
        return Submitted(_response(acc, warnings, items), ())

    async def _first_answer(self, req: exchange_pb2.SubmitRequest, acc: Accepted) -> list[exchange_pb2.ItemOutcome]:
        """The per-item outcome of the first submit of ``acc``: from its audit entry when anything was refused,
        warned or split, else every item accepted into the message (item ids and paths read from the content,
        which is the same as the first's)."""
        recorded = await asyncio.to_thread(self._first_outcomes, acc.message_id)
        if recorded is not None or acc.document_type != registry.AED:
            return recorded or []
        try:
            checked = await self.node.codec.decode_per_item(req.format, req.content)
        except (DocumentError, UnknownFormat):
            return []
        return [exchange_pb2.ItemOutcome(index=i.index, item_id=i.item_id, path=i.path, accepted=True,
                                         message_id=acc.message_id, recipients=acc.recipients)
                for i in checked.items]

    def _first_outcomes(self, message_id: str) -> list[exchange_pb2.ItemOutcome] | None:
        """The per-item outcome the first submit of ``message_id`` answered (from its audit entry)."""
        store = self.node.store
        for seq in store.audit_seqs_of(message_id):
            entry = store.audit_entry(seq)
            if entry is not None and entry.event == audit.ACCEPTED and entry.message_id == message_id:
                rows = json.loads(entry.detail).get("items")
                return _outcomes_from_detail(rows) if isinstance(rows, list) else None
        return None

    async def _reply_context(self, req: exchange_pb2.SubmitRequest, sender: str) -> tuple[str, frozenset[str]]:
        """Checks in_reply_to names a message the sender took part in; returns its conversation id and
        parties (its sender and recipients)."""
        if not req.in_reply_to:
            return "", frozenset()
        parties = await asyncio.to_thread(self.node.store.parties_of, req.in_reply_to)
        if parties is None or (sender != parties[0] and sender not in parties[2]):
            raise InvalidArgument("in_reply_to names no message of yours", violations=[
                FieldViolation("in_reply_to", f"no message {req.in_reply_to!r} that {sender} sent or received")])
        return parties[1], frozenset((parties[0], *parties[2]))

    async def submit(self, sender: str, req: exchange_pb2.SubmitRequest) -> Submitted:
        started = time.monotonic()
        try:
            done = await self._submit(sender, req)
            self.node.metrics.accepted(done.response.document_type, time.monotonic() - started, done.response.duplicate)
            return done
        except GatewayError as err:
            self._record_refusal(sender, req, err)
            raise

    def _record_refusal(self, sender: str, req: exchange_pb2.SubmitRequest, err: GatewayError) -> None:
        self.node.metrics.refused(err.grpc_code)
        if isinstance(err, NotFound):
            log.info("submit refused", sender=sender, message_id=req.message_id, format=req.format,
                     code=err.grpc_code, reason=err.message)
            return
        # Fire and forget: the refusal is answered at once; a failing audit write is logged by the writer.
        # The first of a window is logged and audited; the rest are counted (gateway.evidence.audit).
        if self.refusals.add(sender, err, message_id=req.message_id,
                             detail={"format": req.format[:64], "violations": len(err.violations)}):
            log.info("submit refused", sender=sender, message_id=req.message_id, format=req.format,
                     code=err.grpc_code, reason=err.message)

    async def _prepare(self, sender: str, req: exchange_pb2.SubmitRequest, keys: envelope.ParticipantKeys,
                       digest: bytes) -> tuple[Awaitable[Accepted], NewMessage, envelope_pb2.EnvelopeHeader, Message,
                                               list[Violation], list[exchange_pb2.ItemOutcome]]:
        """Decode, route and seal; hands the accept to the writer and returns its (awaitable) outcome."""
        node = self.node
        # One directory version for the whole message (rule classes, routes), even if a newer one is swapped in.
        view = node.view
        try:
            # Large documents are decoded in a worker process (gateway.codec): the event loop stays free.
            checked = await node.codec.decode_per_item(req.format, req.content, classes=view.directory.rules)
        except UnknownFormat as exc:
            raise InvalidArgument("unknown format", violations=[FieldViolation("format", str(exc))]) from None
        except DocumentError as exc:
            raise InvalidArgument(f"the {req.format} document is invalid", violations=[
                FieldViolation(v.path, v.reason) for v in exc.violations]) from None
        document_type, doc = checked.document_type, checked.msg
        items = sizes.check_items(node.config.limits, doc)
        refused = checked.refused
        if checked.document_problems or (refused and (req.all_or_nothing or len(refused) == len(checked.items))):
            # Nothing to accept: a problem of the document itself, every item bad, or all or nothing asked.
            why = ""
            if refused and not checked.document_problems:
                why = (f": {len(refused)} of {len(checked.items)} items are invalid"
                       + (" and the request asks all_or_nothing" if len(refused) < len(checked.items) else ""))
            raise InvalidArgument(f"the {req.format} document is invalid{why}", violations=[
                FieldViolation(v.path, v.reason) for v in checked.all_problems()])
        warnings = checked.all_warnings()
        if document_type == registry.AED:
            _flag(doc, checked)
        if refused:
            # The accepted subset is stored as the canonical model holding the good items only (every message
            # is sealed as canonical protobuf); the refused ones are named in the answer and the audit entry.
            doc = entries_subset(document_type, doc, [i.index for i in checked.accepted])
        reply_conversation, reply_parties = await self._reply_context(req, sender)
        router = view.router

        async def route_of(routed: Message) -> RouteDecision:
            route = functools.partial(router.route, sender=sender, document_type=document_type, doc=routed,
                                      explicit=list(req.recipients), in_reply_to=req.in_reply_to,
                                      conversation_id=req.conversation_id)
            # A thread hop costs more than routing itself unless the routes read the database.
            return (await asyncio.to_thread(route) if router.needs_lookup(document_type)
                    else await node.codec.to_thread(len(req.content), route))

        message_id = req.message_id or str(uuid.uuid4())
        # Items for several destination countries: one message per route, each routed on its own.
        groups = _routes_of(document_type, doc)
        split: list[tuple[str, tuple[int, ...], Message, RouteDecision]] = []
        for country, indices in groups if len(groups) > 1 else ():
            part_doc = entries_subset(document_type, doc, indices)
            split.append((_route_id(message_id, country), indices, part_doc, await route_of(part_doc)))
        if split:
            taken = [pid for pid, *_ in split if await asyncio.to_thread(node.store.message_exists, pid)]
            if taken:
                raise FailedPrecondition(f"message id {taken[0]} (for the items of one route of this document) "
                                         "is already used; submit it under another message_id")
            decision = RouteDecision(tuple(dict.fromkeys(r for *_, d in split for r in d.recipients)), {},
                                     tuple(i.item_id for i in doc.items))  # type: ignore[attr-defined]
        else:
            decision = await route_of(doc)
        conversation_id = req.conversation_id or reply_conversation or message_id
        created = now_us()
        if req.HasField("expires_at"):
            expires = timestamp_us(req.expires_at)
        else:
            expires = created + node.config.limits.default_ttl_s * 1_000_000
        partial = dict(decision.partial)
        whole = [] if split else [r for r in decision.recipients if r not in partial]
        # A document split per recipient (or per route) keeps the whole of it sealed as its sender signed it,
        # delivered to the recipients entitled to all of it; with none, sealed for the sender itself (evidence).
        sealed_for = whole or ([sender] if partial or split else [])
        header = envelope_pb2.EnvelopeHeader(
            message_id=message_id, conversation_id=conversation_id, in_reply_to=req.in_reply_to, sender=sender,
            recipients=sealed_for, document_type=document_type, created_at=_ts(created),
            expires_at=_ts(expires), source_format=req.format, routing_attributes=decision.attributes)
        payload = doc.SerializeToString(deterministic=True)
        await sizes.check_encoded_size(node.config.limits, document_type, doc, len(payload), items,
                                       [node.preferred_format(r, document_type) for r in decision.recipients])
        certs = [sealing_certificate(node, view, r) for r in sealed_for]
        sealed = envelope.seal(header, payload, keys, certs, node.keks, profile=sealing_profile(view, keys, certs))
        routes = tuple(NewDelivery(r, route_for(view.directory, r, node.name)) for r in whole)
        parts = tuple(self._part(header, document_type, doc, rcpt, indices, keys, view, reply_parties)
                      for rcpt, indices in decision.partial)
        parts += tuple(self._route_part(header, document_type, part_doc, part_id, d, keys, view, reply_parties)
                       for part_id, _, part_doc, d in split)
        # Where each accepted item went (index in the accepted subset -> message id, recipients).
        where: dict[int, tuple[str, tuple[str, ...]]] = {}
        for part_id, indices, _, d in split:
            where.update((n, (part_id, d.recipients)) for n in indices)
        detail = {"document_type": document_type, "format": req.format, "recipients": whole,
                  "envelope_sha256": sealed.sha256.hex(), "bytes": len(sealed.data),
                  "conversation_id": conversation_id}
        if parts:
            detail["parts"] = {p.message_id: p.deliveries[0].recipient for p in parts}
        if warnings:
            detail["warnings"] = [f"{w.path}: {w.reason}"[:200] for w in warnings[:10]]
        accepted_at = [i.index for i in checked.accepted]
        outcomes = item_outcomes(checked, message_id, {
            accepted_at[n]: where.get(n, (message_id, decision.recipients)) for n in range(len(accepted_at))})
        if refused or warnings or split:
            # Only what a retry could not work out again from the content (all accepted into this message).
            detail["items"] = _outcomes_detail(outcomes)
        msg = NewMessage(
            message_id=message_id, conversation_id=conversation_id, in_reply_to=req.in_reply_to, sender=sender,
            document_type=document_type, submit_sha256=digest, envelope=sealed.data,
            envelope_sha256=sealed.sha256, created_us=created, expires_us=expires, accepted_us=created,
            origin="local", attributes=decision.attributes, item_ids=decision.item_ids, deliveries=routes,
            audit_event=audit.AuditEvent(audit.ACCEPTED, message_id, actor=sender, detail=detail),
            kpi_facts=await node.codec.to_thread(len(req.content), kpi.facts_of, document_type, doc),
            parts=parts,
        )
        return node.store.accept(msg), msg, header, doc, warnings, outcomes

    def _seal_part(self, whole: envelope_pb2.EnvelopeHeader, part_id: str, in_reply_to: str,
                   recipients: Sequence[str], attributes: Mapping[str, str], part_doc: Message,
                   keys: envelope.ParticipantKeys, view: DirectoryView) -> envelope.Sealed:
        """A part of a submitted document (a decision split per post, items split per route) as its own
        message: the whole's header under the part's id, recipients and attributes, sealed under the profile
        the federation asks for now, as the whole would be."""
        header = envelope_pb2.EnvelopeHeader()
        header.CopyFrom(whole)
        header.message_id, header.in_reply_to = part_id, in_reply_to
        header.ClearField("recipients")
        header.recipients.extend(recipients)
        header.ClearField("routing_attributes")
        header.routing_attributes.update(attributes)
        certs = [sealing_certificate(self.node, view, r) for r in recipients]
        return envelope.seal(header, part_doc.SerializeToString(deterministic=True), keys, certs, self.node.keks,
                             profile=sealing_profile(view, keys, certs))

    def _part(self, whole: envelope_pb2.EnvelopeHeader, document_type: str, doc: Message, recipient: str,
              indices: tuple[int, ...], keys: envelope.ParticipantKeys, view: DirectoryView,
              reply_parties: frozenset[str]) -> NewMessage:
        """The part of a split document for ``recipient``: its own entries only, sealed and signed as the
        sender, under the id ``<message id>.part-<16 random hex digits>`` (nobody can take it first)."""
        node = self.node
        part_doc = entries_subset(document_type, doc, indices)
        attributes, _ = attributes_of(document_type, part_doc)
        part_id = f"{whole.message_id[:106]}.part-{secrets.token_hex(8)}"
        # in_reply_to only for a party of that message: the others never saw it.
        in_reply_to = whole.in_reply_to if recipient in reply_parties else ""
        sealed = self._seal_part(whole, part_id, in_reply_to, [recipient], attributes, part_doc, keys, view)
        created, expires = timestamp_us(whole.created_at), timestamp_us(whole.expires_at)
        return NewMessage(
            message_id=part_id, conversation_id=whole.conversation_id, in_reply_to=in_reply_to, sender=whole.sender,
            document_type=document_type, submit_sha256=None, envelope=sealed.data, envelope_sha256=sealed.sha256,
            created_us=created, expires_us=expires, accepted_us=created, origin="local", attributes=attributes,
            item_ids=(), deliveries=(NewDelivery(recipient, route_for(view.directory, recipient, node.name)),),
            audit_event=audit.AuditEvent(audit.ACCEPTED, part_id, actor=whole.sender, detail={
                "document_type": document_type, "format": whole.source_format, "recipients": [recipient],
                "envelope_sha256": sealed.sha256.hex(), "bytes": len(sealed.data),
                "conversation_id": whole.conversation_id, "part_of": whole.message_id, "entries": len(indices)}))

    def _route_part(self, whole: envelope_pb2.EnvelopeHeader, document_type: str, part_doc: Message, part_id: str,
                    decision: RouteDecision, keys: envelope.ParticipantKeys, view: DirectoryView,
                    reply_parties: frozenset[str]) -> NewMessage:
        """The message for the items of one route of a document split per destination: sealed and signed as
        the sender to that route's recipients, declaring its items to them."""
        node = self.node
        if decision.partial:
            raise FailedPrecondition(f"the items for {part_id} would be split between recipients again; "
                                     "submit them in a document of their own")
        recipients = list(decision.recipients)
        in_reply_to = whole.in_reply_to if reply_parties.intersection(recipients) else ""
        sealed = self._seal_part(whole, part_id, in_reply_to, recipients, decision.attributes, part_doc, keys,
                                 view)
        created, expires = timestamp_us(whole.created_at), timestamp_us(whole.expires_at)
        return NewMessage(
            message_id=part_id, conversation_id=whole.conversation_id, in_reply_to=in_reply_to, sender=whole.sender,
            document_type=document_type, submit_sha256=None, envelope=sealed.data, envelope_sha256=sealed.sha256,
            created_us=created, expires_us=expires, accepted_us=created, origin="local",
            attributes=dict(decision.attributes), item_ids=decision.item_ids,
            deliveries=tuple(NewDelivery(r, route_for(view.directory, r, node.name)) for r in recipients),
            audit_event=audit.AuditEvent(audit.ACCEPTED, part_id, actor=whole.sender, detail={
                "document_type": document_type, "format": whole.source_format, "recipients": recipients,
                "envelope_sha256": sealed.sha256.hex(), "bytes": len(sealed.data),
                "conversation_id": whole.conversation_id, "part_of": whole.message_id,
                "entries": len(decision.item_ids)}))

    async def _submit(self, sender: str, req: exchange_pb2.SubmitRequest) -> Submitted:
        node = self.node
        keys = node.keys_of(sender)
        try:  # the node signs as the sender: not with a key the federation revoked since the node started
            node.trust.verify(keys.signing_cert, Purpose.SIGNING)
        except TrustError as err:
            raise FailedPrecondition(f"the signing certificate this node holds for {sender} is not trusted "
                                     f"({err.message}); the node cannot sign as {sender} until it gets a new one"
                                     ) from None
        self._check_request(req)
        digest = submit_digest(req)
        dup = await self._duplicate(req, digest, sender)
        if dup is not None:
            return dup
        # The writer may hold its next commit a moment for this message (gateway.store.engine.Writer).
        with node.store.expect_write():
            pending, msg, header, doc, warnings, outcomes = await self._prepare(sender, req, keys, digest)
        accepted: Accepted = await pending
        local = tuple(dict.fromkeys(d.recipient for m in (msg, *msg.parts) for d in m.deliveries if d.route == "local"))
        if not accepted.duplicate:
            log.info("accepted", message_id=msg.message_id, conversation_id=msg.conversation_id, sender=sender,
                     document_type=msg.document_type, recipients=list(accepted.recipients),
                     parts=[p.message_id for p in msg.parts])
            self._on_accepted(local)
            if self.on_document is not None:
                await self.on_document(header, doc)
        if accepted.duplicate:  # a concurrent submit of the same id and content stored first: its answer
            items = await self._first_answer(req, accepted)
            return Submitted(_response(accepted, [Violation(w.field, w.description) for o in items
                                                  for w in o.warnings], items), local)
        return Submitted(_response(accepted, warnings, outcomes), local)

