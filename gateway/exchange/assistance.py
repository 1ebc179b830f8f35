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

from dataclasses import dataclass
from typing import Any

import structlog

from gateway.evidence import audit
from gateway.api.swg.v1 import assistance_pb2, envelope_pb2
from gateway.clock import now_us, timestamp_us
from gateway.node import Node
from gateway.federation.agreements import REQUEST, RESPONSE, check, check_agreement, validate_request
from gateway.store import AssistanceCaseRecord

log = structlog.get_logger("gateway.exchange.assistance")

__all__ = ["REQUEST", "RESPONSE", "check", "check_agreement", "list_cases", "record", "validate_request"]


async def record(node: Node, header: envelope_pb2.EnvelopeHeader, doc: Any) -> None:
    """Case metadata and audit for a request or answer this node accepted (submitted or relayed in)."""
    store, now = node.store, now_us()
    if header.document_type == REQUEST:
        case = AssistanceCaseRecord(header.message_id, header.conversation_id, doc.requesting_administration,
                                    doc.requested_administration, doc.agreement_reference, now, timestamp_us(doc.deadline),
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


@dataclass(frozen=True)
class CaseState:
    """A case as an administration sees it now: its metadata, whether it was answered, whether it is late."""

    case: AssistanceCaseRecord
    answered: bool
    overdue: bool


def list_cases(node: Node, participant: str, only_open: bool) -> list[CaseState]:
    now = now_us()
    out = []
    for c in node.store.assistance_cases(participant, only_open):
        answered = bool(c.answer_message_id)
        out.append(CaseState(c, answered, not answered and c.deadline_us < now))
    return out
