"""Admin responses built from the records the domain returns."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.api.swg.v1 import admin_pb2
from gateway.exchange.assistance import CaseState
from gateway.exchange.delivery import ts
from gateway.store import DeliveryRecord


def deliveries_response(rows: Iterable[DeliveryRecord]) -> admin_pb2.ListDeliveriesResponse:
    out = admin_pb2.ListDeliveriesResponse()
    for d in rows:
        out.deliveries.add(message_id=d.message_id, recipient=d.recipient, sender=d.sender,
                           document_type=d.document_type, state=d.state, attempts=d.attempts,
                           last_error=d.last_error, updated_at=ts(d.updated_us), route=d.route)
    return out


def assistance_cases_response(cases: Iterable[CaseState]) -> admin_pb2.ListAssistanceCasesResponse:
    out = admin_pb2.ListAssistanceCasesResponse()
    for s in cases:
        c = s.case
        item = out.cases.add(conversation_id=c.conversation_id, request_message_id=c.request_message_id,
                             requesting_administration=c.requesting_administration,
                             requested_administration=c.requested_administration,
                             agreement_reference=c.agreement_reference, answered=s.answered,
                             overdue=s.overdue, answer_message_id=c.answer_message_id)
        item.requested_at.FromMicroseconds(c.requested_us)
        item.deadline.FromMicroseconds(c.deadline_us)
    return out
