"""Which participants receive a document, and whether the sender may send it to them. Deny by default.

The directory's ``[[routes]]`` are both access rights and default routes: a route names a document
type, the senders it applies to, the recipients (exact ids, patterns such as ``*/CUSTOMS/*`` for
explicit recipients only, or placeholders resolved per message), and ``when`` conditions on routing
attributes extracted from the document (e.g. ``destination_country = "DE"``).

Placeholders: ``@item_sender`` (the owner of the items concerned at the sending participant: the sender
that first declared them to it in an AED, see ``gateway.store`` ``item_owners``), ``@reply_to_sender`` (the
sender of the message named by ``in_reply_to``), ``@requested_administration`` (an assistance request's
addressee).

A recipient reached only through ``@item_sender`` is entitled to the entries of the document about its own
items, not to the others: when it owns only some of them, ``RouteDecision.partial`` says which, and the
submitting node seals it a part holding just those; a node receiving such a document from a peer
(``relayed=True``) refuses it, since it cannot re-seal what the sender signed.
"""

from __future__ import annotations

__all__ = ["ENTRIES", "ITEM_SENDER", "REPLY_TO_SENDER", "REQUESTED_ADMINISTRATION", "Lookup", "RouteDecision",
           "Router", "attributes_of", "entries_subset", "matches", "route_for"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from adapters import registry
from adapters.upu import s10
from gateway.federation.model import Directory, Route
from gateway.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from gateway.federation import agreements
from gateway.federation.patterns import matches
from gateway.store.records import AssistanceCaseRecord

ITEM_SENDER = "@item_sender"
REPLY_TO_SENDER = "@reply_to_sender"
REQUESTED_ADMINISTRATION = "@requested_administration"


# The repeated field holding a document's per-item entries, for the types that concern S10 items.
ENTRIES = {registry.AED: "items", registry.INSPECTION: "results", registry.REVENUE: "notices"}


class Lookup(Protocol):
    def owners_of_items(self, item_ids: Sequence[str], declared_to: str) -> dict[str, str]:
        """item id -> the sender that first declared it to ``declared_to`` (items nobody did: left out)."""
        ...

    def sender_of(self, message_id: str) -> str | None: ...

    def assistance_case(self, request_message_id: str) -> AssistanceCaseRecord | None: ...


@dataclass(frozen=True)
class RouteDecision:
    recipients: tuple[str, ...]
    attributes: dict[str, str]
    item_ids: tuple[str, ...]
    # Recipients entitled to only some entries of the document (through @item_sender, owning only some of
    # its items), each with the indices of its entries (ENTRIES); every other recipient gets all of it.
    partial: tuple[tuple[str, tuple[int, ...]], ...] = ()


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


def entries_subset(document_type: str, doc: Message, indices: Sequence[int]) -> Message:
    """A copy of ``doc`` holding only the entries (ENTRIES) at ``indices``, everything else unchanged."""
    part = type(doc)()
    part.CopyFrom(doc)
    entries = getattr(part, ENTRIES[document_type])
    keep = [getattr(doc, ENTRIES[document_type])[n] for n in indices]
    del entries[:]
    entries.extend(keep)
    return part


def attributes_of(document_type: str, doc: Message) -> tuple[dict[str, str], tuple[str, ...]]:
    """Routing attributes (never personal data) and the S10 item ids a document concerns."""
    attrs: dict[str, str] = {}
    items: tuple[str, ...] = ()
    if document_type == registry.AED:
        items = tuple(i.item_id for i in doc.items)  # type: ignore[attr-defined]
        attrs["destination_country"] = _uniform(
            [(f"items[{n}].destination_country", i.destination_country) for n, i in enumerate(doc.items)],  # type: ignore[attr-defined]
            "destination country")
        # Real exports mix origins (a post's dispatch collects items from several countries); only one origin
        # makes an attribute routes can use, several make none (routes conditioned on it then do not apply).
        origins = {i.origin_country for i in doc.items if i.origin_country}  # type: ignore[attr-defined]
        attrs["origin_country"] = origins.pop() if len(origins) == 1 else ""
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

    def _resolve(self, token: str, attrs: dict[str, str], in_reply_to: str,
                 owners: Callable[[], dict[str, str]]) -> list[str]:
        if token == ITEM_SENDER:
            return sorted(set(owners().values()))
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
              in_reply_to: str, message_id: str = "", relayed: bool = False,
              conversation_id: str = "") -> RouteDecision:
        """Recipients of ``doc`` from ``sender``. ``message_id``: the message's own id when it is known already
        (a relayed message). A local submit seals a part per recipient entitled to only some entries
        (``RouteDecision.partial``); a ``relayed`` document with such a recipient is refused."""
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
            agreements.check_answer(self.directory, case, sender, doc, in_reply_to, message_id, conversation_id,
                                    "header.conversation_id" if relayed else "conversation_id")
        applicable = [r for r in rules if all(attrs.get(k) == v for k, v in r.when.items())]
        found: list[dict[str, str]] = []

        def owners() -> dict[str, str]:
            # The items' owners where the sender (a customs) got them declared; read once per document.
            if not found:
                found.append(self.lookup.owners_of_items(items, sender) if items else {})
            return found[0]

        by_token: list[tuple[Route, list[tuple[str, str]]]] = [
            (r, [(tok, x) for tok in r.recipients for x in self._resolve(tok, attrs, in_reply_to, owners)])
            for r in applicable
        ]
        resolved = [(r, [x for _, x in pairs]) for r, pairs in by_token]
        if items and any(ITEM_SENDER in r.recipients for r in applicable):
            if not explicit:
                self._check_declared(sender, document_type, items, owners())
            elif not relayed and not any(i in owners() for i in items):
                # Items nobody declared here: the customs names the post itself (the directory cannot), one
                # of those the directory lets declare items to this customs, and no one else.
                declarers = [p for p in explicit if self._may_declare_to(p, sender)]
                resolved += [(r, declarers) for r in applicable if ITEM_SENDER in r.recipients]
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
        partial = self._partial(recipients, by_token, items, found[0] if found else None)
        if partial and relayed:
            pid, mine = partial[0]
            other = next(n for n in range(len(items)) if n not in set(mine))
            raise PermissionDenied(
                f"{pid} may receive {document_type} from {sender} only on items it declared to {sender}; "
                f"{ENTRIES[document_type]}[{other}].item_id {items[other]} is not one of them")
        return RouteDecision(tuple(recipients), attrs, items, partial)

    def _may_declare_to(self, participant: str, customs: str) -> bool:
        """Whether a route lets ``participant`` send AEDs to ``customs`` (who an item's declarer could be)."""
        return participant != customs and any(
            r.document_type == registry.AED and any(matches(p, participant) for p in r.senders)
            and any(matches(t, customs) for t in r.recipients) for r in self.directory.routes)

    @staticmethod
    def _check_declared(sender: str, document_type: str, items: tuple[str, ...], owners: dict[str, str]) -> None:
        """A decision goes to the post that declared each item to this customs: an item nobody declared has
        no such post, and saying "no route" (or sending it to the tax authority alone) would hide why."""
        missing = [n for n, item_id in enumerate(items) if item_id not in owners]
        if missing:
            n = missing[0]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise FailedPrecondition(
                f"{ENTRIES.get(document_type, 'items')}[{n}].item_id: {items[n]} was not declared to {sender} by any "
                f"post (no AED for it here){more}; name the post that is to receive it in recipients")

    @staticmethod
    def _partial(recipients: Sequence[str], by_token: list[tuple[Route, list[tuple[str, str]]]],
                 items: tuple[str, ...], owners: dict[str, str] | None) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Recipients entitled only through @item_sender that own just some of the items, with theirs."""
        if not owners:
            return ()
        broad = [x for _, pairs in by_token for tok, x in pairs if tok != ITEM_SENDER]
        out = []
        for pid in recipients:
            if any(matches(p, pid) for p in broad):
                continue
            mine = tuple(n for n, item_id in enumerate(items) if owners.get(item_id) == pid)
            if len(mine) < len(items):
                out.append((pid, mine))
        return tuple(out)

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
