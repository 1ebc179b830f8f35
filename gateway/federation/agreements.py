"""Whether an assistance request or answer is allowed under the directory's ``[[agreements]]``.

Pure checks of a document against the directory, run by the router on the sending and on the receiving node;
what happens to a case afterwards (its metadata, its audit) is ``gateway.exchange.assistance``.
"""

from __future__ import annotations

from typing import Any

from gateway.api.swg.v1 import assistance_pb2
from gateway.clock import now_us, timestamp_us
from gateway.federation.model import Directory
from gateway.errors import FieldViolation, InvalidArgument, PermissionDenied
from gateway.federation.patterns import matches

REQUEST = "swg.assistance.request.v1"
RESPONSE = "swg.assistance.response.v1"


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
    elif timestamp_us(req.deadline) <= (now or now_us()):
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
