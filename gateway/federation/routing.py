"""Which participants receive a document, and whether the sender may send it to them. Deny by default.

The directory's ``[[routes]]`` are both access rights and default routes: a route names a document
type, the senders it applies to, the recipients (exact ids, patterns such as ``*/CUSTOMS/*`` for
explicit recipients only, or placeholders resolved per message), and ``when`` conditions on routing
attributes extracted from the document (e.g. ``destination_country = "DE"``).

Placeholders: ``@item_sender`` (the participant that sent the AED of the items concerned),
``@reply_to_sender`` (the sender of the message named by ``in_reply_to``), ``@requested_administration``
(an assistance request's addressee).
"""

from __future__ import annotations

__all__ = ["ITEM_SENDER", "REPLY_TO_SENDER", "REQUESTED_ADMINISTRATION", "Lookup", "RouteDecision", "Router",
           "attributes_of", "matches", "route_for"]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from adapters import registry
from adapters.upu import s10
from gateway.federation.model import Directory, Route
from gateway.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from gateway.federation import agreements
from gateway.federation.patterns import matches
from gateway.store.records import AssistanceCaseRecord

ITEM_SENDER = "@item_sender"
REPLY_TO_SENDER = "@reply_to_sender"
REQUESTED_ADMINISTRATION = "@requested_administration"


class Lookup(Protocol):
    def senders_of_items(self, item_ids: Sequence[str], document_type: str) -> dict[str, str]: ...

    def sender_of(self, message_id: str) -> str | None: ...

    def assistance_case(self, request_message_id: str) -> AssistanceCaseRecord | None: ...


@dataclass(frozen=True)
class RouteDecision:
    recipients: tuple[str, ...]
    attributes: dict[str, str]
    item_ids: tuple[str, ...]


def _uniform(values: list[tuple[str, str]], name: str) -> str:
    """The one value all entries share; a violation naming the first odd one out otherwise."""
    present = [(path, v) for path, v in values if v]
    if not present:
        return ""
    first = present[0][1]
    for path, v in present:
        if v != first:
            raise InvalidArgument(
                f"a document must concern one {name}",
                violations=[FieldViolation(path, f"{name} {v} differs from {first} of the first entry; "
                                                 f"submit one document per {name}")])
    return first


def attributes_of(document_type: str, doc: Message) -> tuple[dict[str, str], tuple[str, ...]]:
    """Routing attributes (never personal data) and the S10 item ids a document concerns."""
    attrs: dict[str, str] = {}
    items: tuple[str, ...] = ()
    if document_type == registry.AED:
        items = tuple(i.item_id for i in doc.items)  # type: ignore[attr-defined]
        attrs["destination_country"] = _uniform(
            [(f"items[{n}].destination_country", i.destination_country) for n, i in enumerate(doc.items)],  # type: ignore[attr-defined]
            "destination country")
        attrs["origin_country"] = _uniform(
            [(f"items[{n}].origin_country", i.origin_country) for n, i in enumerate(doc.items)],  # type: ignore[attr-defined]
            "origin country")
    elif document_type == registry.INSPECTION:
        results = doc.results  # type: ignore[attr-defined]
        items = tuple(r.item_id for r in results)
        assessed = any(r.outcome == 8 or len(r.taxes) > 0 for r in results)  # 8: DUTIES_ASSESSED
        attrs["duties_assessed"] = "true" if assessed else "false"
    elif document_type == registry.REVENUE:
        notices = doc.notices  # type: ignore[attr-defined]
        items = tuple(n.item_id for n in notices)
        attrs["destination_country"] = _uniform(
            [(f"notices[{k}].destination_country", n.destination_country) for k, n in enumerate(notices)],
            "destination country")
    elif document_type == registry.ASSISTANCE_REQUEST:
        # The S10 ids of its subjects, so that the parties can track the items (valid ids only: the field is free).
        items = tuple(dict.fromkeys(i for s in doc.subjects for i in s.item_ids  # type: ignore[attr-defined]
                                    if s10.is_valid(i)))
        attrs["requested_administration"] = doc.requested_administration  # type: ignore[attr-defined]
        attrs["agreement_reference"] = doc.agreement_reference  # type: ignore[attr-defined]
        attrs["information_category"] = doc.information_category  # type: ignore[attr-defined]
    elif document_type == registry.ASSISTANCE_RESPONSE:
        attrs["agreement_reference"] = doc.agreement_reference  # type: ignore[attr-defined]
    return {k: v for k, v in attrs.items() if v}, items


_LOOKUP_TOKENS = frozenset({ITEM_SENDER, REPLY_TO_SENDER})


class Router:
    def __init__(self, directory: Directory, lookup: Lookup):
        self.directory = directory
        self.lookup = lookup
        # Routing is pure computation unless a route of the type names a placeholder read from the
        # database; only then does the caller need to move it off the event loop.
        self._lookup_types = frozenset(r.document_type for r in directory.routes
                                       if _LOOKUP_TOKENS.intersection(r.recipients)) | {registry.ASSISTANCE_RESPONSE}

    def needs_lookup(self, document_type: str) -> bool:
        """Whether routing ``document_type`` may read the database (so should run in a thread)."""
        return document_type in self._lookup_types

    def _resolve(self, token: str, sender: str, attrs: dict[str, str], items: tuple[str, ...],
                 in_reply_to: str) -> list[str]:
        if token == ITEM_SENDER:
            if not items:
                return []
            found = self.lookup.senders_of_items(items, registry.AED)
            return sorted(set(found.values()))
        if token == REPLY_TO_SENDER:
            if not in_reply_to:
                return []
            s = self.lookup.sender_of(in_reply_to)
            return [s] if s else []
        if token == REQUESTED_ADMINISTRATION:
            r = attrs.get("requested_administration")
            return [r] if r else []
        return [token]

    def route(self, *, sender: str, document_type: str, doc: Message, explicit: Sequence[str],
              in_reply_to: str, message_id: str = "") -> RouteDecision:
        """``message_id``: the message's own id when it is known already (a relayed message)."""
        attrs, items = attributes_of(document_type, doc)
        rules = [r for r in self.directory.routes
                 if r.document_type == document_type and any(matches(p, sender) for p in r.senders)]
        if not rules:
            raise PermissionDenied(f"{sender} may not send {document_type}: no route in the directory allows it")
        case: AssistanceCaseRecord | None = None
        if document_type in (registry.ASSISTANCE_REQUEST, registry.ASSISTANCE_RESPONSE):
            agreements.check(self.directory, sender, document_type, doc, in_reply_to)
        if document_type == registry.ASSISTANCE_RESPONSE:
            case = self.lookup.assistance_case(in_reply_to)
            agreements.check_answer(self.directory, case, sender, doc, in_reply_to, message_id)
        applicable = [r for r in rules if all(attrs.get(k) == v for k, v in r.when.items())]
        resolved: list[tuple[Route, list[str]]] = [
            (r, [x for tok in r.recipients for x in self._resolve(tok, sender, attrs, items, in_reply_to)])
            for r in applicable
        ]
        if explicit:
            recipients = self._check_explicit(sender, document_type, explicit, resolved, attrs)
        else:
            recipients = []
            for r, targets in resolved:
                if r.default:
                    recipients += [x for x in targets if "*" not in x and x != sender]
            recipients = list(dict.fromkeys(recipients))
            if not recipients:
                facts = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())) or "no routing attributes"
                raise PermissionDenied(f"no default recipient for {document_type} from {sender} ({facts}); "
                                       "the directory has no route for it")
        for pid in recipients:
            if pid not in self.directory.participants:
                raise PermissionDenied(f"recipient {pid} is not a participant of the federation")
        if case is not None:
            agreements.check_answer_recipients(case, recipients)
        return RouteDecision(tuple(recipients), attrs, items)

    def _check_explicit(self, sender: str, document_type: str, explicit: Sequence[str],
                        resolved: list[tuple[Route, list[str]]], attrs: dict[str, str]) -> list[str]:
        violations = [FieldViolation(f"recipients[{i}]", f"unknown participant {pid!r}")
                      for i, pid in enumerate(explicit) if pid not in self.directory.participants]
        if violations:
            raise InvalidArgument("unknown recipients", violations=violations)
        for pid in explicit:
            if not any(matches(p, pid) for _, targets in resolved for p in targets):
                raise PermissionDenied(f"{sender} may not send {document_type} to {pid}: no route in the "
                                       "directory allows it")
        return list(dict.fromkeys(explicit))


def route_for(directory: Directory, recipient: str, local_node: str) -> str:
    """Where a recipient's delivery goes: "local" or the name of the node hosting it."""
    entry = directory.participants.get(recipient)
    if entry is None:
        raise NotFound(f"recipient {recipient} is not in the directory")
    return "local" if entry.node == local_node else entry.node
