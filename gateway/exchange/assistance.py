"""Mutual administrative assistance between customs administrations (bilateral CMAA agreements).

A request (``swg.assistance.request.v1``) must name an agreement of the directory that lets the
requesting administration ask the requested one, for that information category and assistance type;
it must carry purpose, legal basis, deadline and requesting officer. The answer
(``swg.assistance.response.v1``) names the request in ``in_reply_to`` and shares its conversation.

The store holds only sealed envelopes, so the few facts needed to list open and overdue cases (ids,
parties, agreement reference, deadline, answered) are kept as plaintext case metadata, never the
question or the answer. Both request and answer are audited on every node that handles them.
"""

from __future__ import annotations

from typing import Any

import structlog

from gateway.evidence import audit
from gateway.api.swg.v1 import admin_pb2, assistance_pb2, envelope_pb2
from gateway.federation import Directory
from gateway.errors import FieldViolation, InvalidArgument, PermissionDenied
from gateway.clock import now_us
from gateway.node import Node
from gateway.federation.routing import matches
from gateway.store import AssistanceCaseRecord

log = structlog.get_logger("gateway.exchange.assistance")

REQUEST = "swg.assistance.request.v1"
RESPONSE = "swg.assistance.response.v1"


def _us(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def validate_request(sender: str, req: assistance_pb2.AssistanceRequest, now: int | None = None) -> None:
    problems: list[FieldViolation] = []
    for name in ("requesting_administration", "requested_administration", "agreement_reference", "legal_basis",
                 "purpose", "information_category"):
        if not getattr(req, name):
            problems.append(FieldViolation(name, "required"))
    if req.requesting_administration and req.requesting_administration != sender:
        problems.append(FieldViolation("requesting_administration",
                                       f"must be the sender {sender}, not {req.requesting_administration}"))
    if req.assistance_type == assistance_pb2.ASSISTANCE_TYPE_UNSPECIFIED:
        problems.append(FieldViolation("assistance_type", "required"))
    if not req.HasField("deadline"):
        problems.append(FieldViolation("deadline", "required"))
    elif _us(req.deadline) <= (now or now_us()):
        problems.append(FieldViolation("deadline", "is in the past"))
    if not req.requesting_officer.name:
        problems.append(FieldViolation("requesting_officer.name", "required"))
    if not req.requesting_officer.officer_id:
        problems.append(FieldViolation("requesting_officer.officer_id", "required"))
    if problems:
        raise InvalidArgument("invalid assistance request", violations=problems)


def check_agreement(directory: Directory, req: assistance_pb2.AssistanceRequest) -> None:
    """PERMISSION_DENIED naming what is missing, unless an agreement covers exactly this request."""
    ref = req.agreement_reference
    ag = directory.agreements.get(ref)
    asker, asked = req.requesting_administration, req.requested_administration
    if ag is None:
        raise PermissionDenied(f"no agreement {ref!r} in the directory: {asker} may not ask {asked} for assistance")
    if not any(matches(p, asker) for p in ag.requesting) or not any(matches(p, asked) for p in ag.requested):
        raise PermissionDenied(f"agreement {ref} does not let {asker} ask {asked}; no agreement covers this request")
    if ag.information_categories and req.information_category not in ag.information_categories:
        raise PermissionDenied(f"agreement {ref} does not cover information category {req.information_category!r} "
                               f"(covers {', '.join(ag.information_categories)})")
    kind = assistance_pb2.AssistanceType.Name(req.assistance_type).removeprefix("ASSISTANCE_TYPE_")
    if ag.assistance_types and kind not in ag.assistance_types:
        raise PermissionDenied(f"agreement {ref} does not cover assistance type {kind}")


def check(directory: Directory, sender: str, document_type: str, doc: Any, in_reply_to: str) -> None:
    """Called by the router for assistance documents, on the sending and on the receiving node."""
    if document_type == REQUEST:
        validate_request(sender, doc)
        check_agreement(directory, doc)
    elif document_type == RESPONSE:
        problems = []
        if not in_reply_to:
            problems.append(FieldViolation("in_reply_to", "an assistance answer names the request it answers"))
        if doc.requested_administration and doc.requested_administration != sender:
            problems.append(FieldViolation("requested_administration", f"must be the sender {sender}"))
        if problems:
            raise InvalidArgument("invalid assistance answer", violations=problems)


async def record(node: Node, header: envelope_pb2.EnvelopeHeader, doc: Any) -> None:
    """Case metadata and audit for a request or answer this node accepted (submitted or relayed in)."""
    store, now = node.store, now_us()
    if header.document_type == REQUEST:
        case = AssistanceCaseRecord(header.message_id, header.conversation_id, doc.requesting_administration,
                                    doc.requested_administration, doc.agreement_reference, now, _us(doc.deadline),
                                    "", None)
        ev = audit.AuditEvent(audit.ASSISTANCE_REQUEST, header.message_id, actor=header.sender,
                              subject=doc.requested_administration, detail={
                                  "agreement": doc.agreement_reference, "deadline_us": case.deadline_us,
                                  "conversation_id": header.conversation_id})
        await store.open_assistance_case(case)
    elif header.document_type == RESPONSE:
        ev = audit.AuditEvent(audit.ASSISTANCE_ANSWER, header.message_id, actor=header.sender,
                              subject=doc.requesting_administration, detail={
                                  "in_reply_to": header.in_reply_to, "agreement": doc.agreement_reference,
                                  "status": assistance_pb2.AssistanceStatus.Name(doc.status)})
        await store.assistance_answered(header.in_reply_to, header.message_id, now)
    else:
        return
    await store.append_audit([ev], now)
    log.info("assistance", kind=ev.event, message_id=header.message_id, sender=header.sender)


def list_cases(node: Node, participant: str, only_open: bool) -> admin_pb2.ListAssistanceCasesResponse:
    now = now_us()
    out = admin_pb2.ListAssistanceCasesResponse()
    for c in node.store.assistance_cases(participant, only_open):
        answered = bool(c.answer_message_id)
        item = out.cases.add(conversation_id=c.conversation_id, request_message_id=c.request_message_id,
                             requesting_administration=c.requesting_administration,
                             requested_administration=c.requested_administration,
                             agreement_reference=c.agreement_reference, answered=answered,
                             overdue=not answered and c.deadline_us < now, answer_message_id=c.answer_message_id)
        item.requested_at.FromMicroseconds(c.requested_us)
        item.deadline.FromMicroseconds(c.deadline_us)
    return out
