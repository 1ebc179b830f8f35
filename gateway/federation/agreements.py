"""Whether an assistance request or answer is allowed under the directory's ``[[agreements]]``.

Pure checks of a document against the directory (and, for an answer, against the case its request opened on
this node), run by the router on the sending and on the receiving node; what happens to a case afterwards
(its metadata, its audit) is ``gateway.exchange.assistance``.
"""

from __future__ import annotations

from typing import Any

from gateway.api.swg.v1 import assistance_pb2
from gateway.clock import now_us, timestamp_us
from gateway.federation.model import Directory
from gateway.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from gateway.federation.patterns import matches
from gateway.store.records import AssistanceCaseRecord

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


def check_answer(directory: Directory, case: AssistanceCaseRecord | None, sender: str,
                 doc: Any, in_reply_to: str, message_id: str = "", conversation_id: str = "",
                 conversation_path: str = "conversation_id") -> None:
    """An answer replies to an open request of this node's case metadata, comes from the administration that
    was asked, names the one that asked and the same agreement (which must still be in the directory).

    ``message_id`` is the answer's own id when known (a relayed answer): the case it already closed is not
    an objection to the same answer coming again.
    """
    if case is None:
        raise FailedPrecondition(f"in_reply_to {in_reply_to!r} names no assistance request known to this node; an "
                                 "assistance answer replies to an open assistance request")
    if case.answer_message_id and case.answer_message_id != message_id:
        raise FailedPrecondition(f"the assistance request {in_reply_to} was already answered "
                                 f"(by {case.answer_message_id}); its case is closed")
    if sender != case.requested_administration:
        raise PermissionDenied(f"only {case.requested_administration}, the administration asked in request "
                               f"{in_reply_to}, may answer it, not {sender}")
    if doc.requesting_administration and doc.requesting_administration != case.requesting_administration:
        raise PermissionDenied(f"the answer names {doc.requesting_administration} as requesting administration, but "
                               f"request {in_reply_to} came from {case.requesting_administration}")
    if doc.agreement_reference != case.agreement_reference:
        raise PermissionDenied(f"the answer names agreement {doc.agreement_reference!r}, but request {in_reply_to} "
                               f"was made under {case.agreement_reference}")
    if case.agreement_reference not in directory.agreements:
        raise PermissionDenied(f"agreement {case.agreement_reference} is no longer in the directory")
    # A case is one conversation: an answer filed under another would be missing from the requester's view of it.
    if conversation_id and case.conversation_id and conversation_id != case.conversation_id:
        raise InvalidArgument("an assistance answer continues the conversation of its request", violations=[
            FieldViolation(conversation_path, f"must be {case.conversation_id!r}, the conversation of request "
                                              f"{in_reply_to} (or empty, to take it)")])


def check_answer_recipients(case: AssistanceCaseRecord, recipients: tuple[str, ...] | list[str]) -> None:
    """An answer goes to the requesting administration of its case, and to no one else."""
    others = [r for r in recipients if r != case.requesting_administration]
    if others or not recipients:
        raise PermissionDenied(f"an answer to assistance request {case.request_message_id} goes to "
                               f"{case.requesting_administration} only, not to {', '.join(others) or 'no one'}")
