"""Validation of canonical documents, shared by every adapter and run by ``registry.decode``.

Every check runs; every problem is reported as a :class:`~adapters.errors.Violation` whose path is a
canonical field path (``items[1].contents[0].hs_code``, indices from 0). ``registry.decode`` translates
those paths into XPaths / JSON pointers into the input document. The rules are listed in docs/formats.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from stdnum.eu import oss
from stdnum.exceptions import ValidationError as StdnumError

from adapters.errors import DocumentError, Violation
from adapters.paths import Locator, identity, join
from adapters.upu import s10
from gateway.api.swg.v1 import common_pb2, inspection_pb2, item_pb2

AED = "swg.aed.v1"
INSPECTION = "swg.inspection.v1"

#: Full AED: everything below. LOGISTIC: data from logistic systems (IPS exports), which may lack the
#: customs declaration: the item category is never required; every other rule applies.
PROFILE_AED = "aed"
PROFILE_LOGISTIC = "logistic"

ERROR, WARNING = "error", "warning"
RULE_CLASSES = (ERROR, WARNING)


@dataclass(frozen=True)
class Rule:
    """A validation rule whose class (error: the item is refused; warning: accepted, the sender told and the
    item flagged for the recipient customs) a destination country may set in the directory (``[rules.CC]``)."""

    id: str
    path: str
    aed: str  # default class, profile aed
    logistic: str  # default class, profile logistic (IPS exports)
    description: str


#: The classed rules, by id (docs/formats.md lists them with every fixed rule). Every other rule is an error.
RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("weight-zero", "items[].gross_weight_kg", ERROR, WARNING,
         "gross weight exactly 0 (IPS exports carry 0.000 for items not weighed yet)"),
    Rule("hs-code-required", "items[].contents[].hs_code", ERROR, ERROR,
         "an HS code (at least 6 digits) on every content piece of a sale of goods"),
    Rule("declared-value-total", "items[].declared_value.amount", ERROR, ERROR,
         "the content values add up to at most the declared value"),
)}

#: Country -> rule id -> class, as the directory's ``[rules.CC]`` tables set them (overriding the defaults).
RuleClasses = Mapping[str, Mapping[str, str]]

#: The item extension that carries the data-quality flags of an accepted item to its recipients: the ids of the
#: warning rules it broke, comma-separated.
DATA_QUALITY_EXTENSION = "swg:data-quality"

# ASCII digits only, matched whole (see adapters/upu/s10.py).
_DECIMAL = re.compile(r"\d{1,15}(\.\d{1,6})?", re.ASCII)
_HS = re.compile(r"\d{6,10}", re.ASCII)
_CATEGORIES = frozenset(v.number for v in item_pb2.ItemCategory.DESCRIPTOR.values if v.number != 0)
_OUTCOMES = frozenset(v.number for v in inspection_pb2.InspectionOutcome.DESCRIPTOR.values if v.number != 0)
_DOC_TYPES = frozenset(v.number for v in item_pb2.ItemDocumentType.DESCRIPTOR.values)
_TAX_ID_TYPES = frozenset(v.number for v in common_pb2.TaxIdType.DESCRIPTOR.values)
_SCHEMES = frozenset(v.number for v in item_pb2.EventScheme.DESCRIPTOR.values)


def decimal_problem(text: str, *, positive: bool = False) -> str | None:
    """Reason ``text`` is not a well-formed decimal ("12.50": digits, optional "." and up to 6 decimals)."""
    if not _DECIMAL.fullmatch(text):
        return f"{text!r} is not a decimal number (digits, optional '.' and decimals, no sign or exponent)"
    if positive and Decimal(text) <= 0:
        return f"{text} must be greater than zero"
    return None


def ioss_problem(value: str) -> str | None:
    """Reason ``value`` is not an IOSS number (IM…) or IOSS intermediary number (IN…).

    Both are 12 characters: prefix + 3-digit ISO numeric code of an EU member state + 6 digits + check
    digit. The check-digit algorithm is not public (python-stdnum's ``stdnum.eu.oss`` says so), so only
    the structure and the member-state code are verified, with ``stdnum.eu.oss``.
    """
    if value != value.strip().upper() or " " in value:
        return "IOSS number must be written in capitals without spaces"
    if value.startswith("EU"):
        return "EU… numbers belong to the non-Union OSS scheme, not to IOSS"
    if value.startswith("IN"):
        candidate = "IM" + value[2:]
    elif value.startswith("IM"):
        candidate = value
    else:
        return "IOSS number must start with IM (or IN for an intermediary)"
    try:
        oss.validate(candidate)
    except StdnumError as exc:
        if len(candidate) != 12:
            return "IOSS number must be 12 characters: IM/IN + 3-digit member state + 6 digits + check digit"
        if not (candidate[2:].isascii() and candidate[2:].isdigit()):
            return "IOSS number must have 10 digits after IM/IN"
        return f"IOSS number does not name an EU member state ({candidate[2:5]}): {exc}"
    return None


class _Checker:
    """Collects violations. Checks take the parent's canonical path and the field name separately, so
    that a path string is only built for a field that has a problem (valid documents are the rule)."""

    def __init__(self, profile: str = PROFILE_AED, classes: RuleClasses | None = None) -> None:
        self.problems: list[Violation] = []
        self.warnings: list[Violation] = []
        self.profile = profile
        self.classes: RuleClasses = classes or {}
        # (path, rule id) of every warning, so that an item's flags can name the rules.
        self.flags: list[tuple[str, str]] = []
        self.country_code = ""  # destination country of the item being checked

    def rule_class(self, rule_id: str) -> str:
        rule = RULES[rule_id]
        return self.classes.get(self.country_code, {}).get(rule_id) or (
            rule.logistic if self.profile == PROFILE_LOGISTIC else rule.aed)

    def rule(self, rule_id: str, path: str, reason: str) -> None:
        """A classed rule broken at ``path``: an error or a warning, as the item's destination country says."""
        if self.rule_class(rule_id) == WARNING:
            self.warn(path, f"{reason} [{rule_id}: warning]")
            self.flags.append((path, rule_id))
        else:
            self.add(path, reason)

    def add(self, path: str, reason: str) -> None:
        self.problems.append(Violation(path, reason))

    def warn(self, path: str, reason: str) -> None:
        """A data-quality problem that does not refuse the document: the sender is told, the item accepted."""
        self.warnings.append(Violation(path, reason))

    def country(self, path: str, field: str, code: str) -> None:
        if code and not s10.is_country(code):
            self.add(join(path, field), f"{code!r} is not an ISO 3166-1 alpha-2 country code")

    def currency(self, path: str, field: str, code: str) -> None:
        if code and not s10.is_currency(code):
            self.add(join(path, field), f"{code!r} is not an ISO 4217 currency code")

    def decimal(self, path: str, field: str, text: str, *, positive: bool = False) -> None:
        if text:
            reason = decimal_problem(text, positive=positive)
            if reason:
                self.add(join(path, field), reason)

    def money(self, path: str, parent: Message, field: str, *, positive: bool = False) -> None:
        if not parent.HasField(field):
            return
        money = getattr(parent, field)
        if not money.amount:
            self.add(join(path, field + ".amount"), "amount is missing")
        else:
            self.decimal(path, field + ".amount", money.amount, positive=positive)
        if not money.currency:
            self.add(join(path, field + ".currency"), "currency is missing")
        else:
            self.currency(path, field + ".currency", money.currency)

    def s10(self, path: str, field: str, value: str) -> None:
        if not value:
            self.add(join(path, field), "S10 item identifier is missing")
            return
        reason = s10.validate(value)
        if reason:
            self.add(join(path, field), f"not a valid S10 item identifier: {reason}")

    def timestamp(self, path: str, parent: Message, field: str) -> None:
        if parent.HasField(field):
            ts = getattr(parent, field)
            if not (-62135596800 <= ts.seconds <= 253402300799) or not (0 <= ts.nanos < 1_000_000_000):
                self.add(join(path, field), "timestamp out of range")


def _party(c: _Checker, path: str, party: common_pb2.Party) -> None:
    if party.HasField("address"):
        c.country(path, "address.country_code", party.address.country_code)
    for i, tax in enumerate(party.tax_ids):
        if tax.type not in _TAX_ID_TYPES:
            c.add(join(join(path, "tax_ids", i), "type"), f"unknown tax id type {tax.type}")
        if not tax.value:
            c.add(join(join(path, "tax_ids", i), "value"), "tax id value is missing")
        elif tax.type == common_pb2.TAX_ID_TYPE_IOSS:
            reason = ioss_problem(tax.value)
            if reason:
                c.add(join(join(path, "tax_ids", i), "value"), reason)


def _item(c: _Checker, path: str, item: item_pb2.PostalItem, profile: str) -> None:
    c.s10(path, "item_id", item.item_id)
    c.timestamp(path, item, "posted_at")
    c.country(path, "origin_country", item.origin_country)
    c.country(path, "destination_country", item.destination_country)
    c.country_code = item.destination_country
    if item.gross_weight_kg and decimal_problem(item.gross_weight_kg) is None and Decimal(item.gross_weight_kg) == 0:
        # Real IPS exports carry 0.000 for items not yet weighed: one such item must not refuse the other 170.
        c.rule("weight-zero", join(path, "gross_weight_kg"),
               "weight 0 (not weighed yet?): accepted; customs sees no weight" if c.rule_class("weight-zero") == WARNING
               else f"{item.gross_weight_kg} must be greater than zero")
    else:
        c.decimal(path, "gross_weight_kg", item.gross_weight_kg, positive=True)
    for field in ("insured_value", "postage", "declared_value", "dutiable_value"):
        c.money(path, item, field)
    if item.receptacle_id:
        reason = s10.validate_receptacle(item.receptacle_id)
        if reason:
            c.add(join(path, "receptacle_id"), f"not a valid S9 receptacle identifier: {reason}")
    if item.category == 0:
        if profile == PROFILE_AED and item.contents:
            c.add(join(path, "category"), "category of item is missing (11, 21, 31, 32, 91 or 991) for an item "
                                          "with a customs declaration (content pieces)")
    elif item.category not in _CATEGORIES:
        c.add(join(path, "category"), f"category of item {item.category} is not in the UPU code list")
    for side in ("sender", "addressee"):
        if item.HasField(side):
            _party(c, join(path, side), getattr(item, side))
    for i, doc in enumerate(item.documents):
        if doc.type not in _DOC_TYPES:
            c.add(join(join(path, "documents", i), "type"), f"unknown document type {doc.type}")
    sale = item.category == item_pb2.ITEM_CATEGORY_SALE_OF_GOODS
    currencies: set[str] = set()
    total = Decimal(0)
    summable = True
    indices: set[int] = set()
    for i, piece in enumerate(item.contents):
        ppath = join(path, "contents", i)
        if piece.index:
            if piece.index in indices:
                c.add(join(ppath, "index"), f"content piece index {piece.index} is used twice")
            indices.add(piece.index)
        if piece.quantity == 0:
            c.add(join(ppath, "quantity"), "quantity must be a positive whole number")
        if piece.hs_code:
            if not _HS.fullmatch(piece.hs_code):
                c.add(join(ppath, "hs_code"), f"HS code {piece.hs_code!r} must be 6 to 10 digits")
        elif sale:
            c.rule("hs-code-required", join(ppath, "hs_code"), "HS code (at least 6 digits) is required for a sale of goods")
        c.decimal(ppath, "net_weight_kg", piece.net_weight_kg, positive=True)
        c.country(ppath, "origin_country", piece.origin_country)
        before = len(c.problems)
        c.money(ppath, piece, "value")
        if piece.HasField("value") and len(c.problems) == before:
            currencies.add(piece.value.currency)
            total += Decimal(piece.value.amount)
        elif piece.HasField("value"):
            summable = False
    if len(currencies) > 1:
        c.add(join(path, "contents"), f"content values use more than one currency: {', '.join(sorted(currencies))}")
    elif currencies and summable and item.HasField("declared_value"):
        declared = item.declared_value
        if declared.currency and declared.currency not in currencies:
            c.add(join(path, "declared_value.currency"),
                  f"declared value is in {declared.currency} but the content values are in {currencies.pop()}")
        elif declared.amount and decimal_problem(declared.amount) is None and total > Decimal(declared.amount):
            c.rule("declared-value-total", join(path, "declared_value.amount"),
                   f"content values add up to {total}, more than the declared value {declared.amount}")
    for i, event in enumerate(item.events):
        epath = join(path, "events", i)
        if event.scheme not in _SCHEMES:
            c.add(join(epath, "scheme"), f"unknown event scheme {event.scheme}")
        if not event.code:
            c.add(join(epath, "code"), "event code is missing")
        c.timestamp(epath, event, "occurred_at")


def validate_item_batch(batch: item_pb2.ItemBatch, *, profile: str = PROFILE_AED) -> list[Violation]:
    """Every problem of an AED document (canonical paths)."""
    return _check_item_batch(batch, profile).problems


def item_batch_warnings(batch: item_pb2.ItemBatch, *, profile: str = PROFILE_AED) -> list[Violation]:
    """What is accepted but worth telling the sender (canonical paths)."""
    return _check_item_batch(batch, profile).warnings


def check_item_batch(batch: item_pb2.ItemBatch, *, profile: str = PROFILE_AED, classes: RuleClasses | None = None
                     ) -> tuple[list[Violation], list[Violation], list[tuple[str, str]]]:
    """(problems, warnings, flags) of an AED document with the rule classes of its items' destination
    countries; canonical paths; a flag is (path, rule id) of a warning."""
    c = _check_item_batch(batch, profile, classes)
    return text_problems(batch) + c.problems, c.warnings, c.flags


def _check_item_batch(batch: item_pb2.ItemBatch, profile: str, classes: RuleClasses | None = None) -> _Checker:
    c = _Checker(profile, classes)
    if not batch.items:
        c.add("items", "the document carries no item")
    seen: dict[str, int] = {}
    for i, item in enumerate(batch.items):
        path = join("", "items", i)
        _item(c, path, item, profile)
        if item.item_id:
            if item.item_id in seen:
                c.add(join(path, "item_id"), f"item {item.item_id} appears twice (also items[{seen[item.item_id]}])")
            else:
                seen[item.item_id] = i
    return c


def validate_inspection_batch(batch: inspection_pb2.InspectionResultBatch) -> list[Violation]:
    """Every problem of a swg.inspection.v1 document (canonical paths)."""
    c = _Checker()
    if not batch.results:
        c.add("results", "the document carries no result")
    for i, result in enumerate(batch.results):
        path = join("", "results", i)
        c.s10(path, "item_id", result.item_id)
        if result.outcome == 0:
            c.add(join(path, "outcome"), "decision (outcome) is missing")
        elif result.outcome not in _OUTCOMES:
            c.add(join(path, "outcome"), f"unknown outcome {result.outcome}")
        c.timestamp(path, result, "decided_at")
        c.money(path, result, "total_fee")
        for j, tax in enumerate(result.taxes):
            tpath = join(path, "taxes", j)
            c.money(tpath, tax, "amount")
            c.decimal(tpath, "rate", tax.rate)
            if tax.hs_code and not _HS.fullmatch(tax.hs_code):
                c.add(join(tpath, "hs_code"), f"HS code {tax.hs_code!r} must be 6 to 10 digits")
        for j, rev in enumerate(result.revisions):
            rpath = join(path, "revisions", j)
            if rev.revised_hs_code and not _HS.fullmatch(rev.revised_hs_code):
                c.add(join(rpath, "revised_hs_code"), f"HS code {rev.revised_hs_code!r} must be 6 to 10 digits")
        if result.HasField("image") and result.image.sha256 and len(result.image.sha256) != 32:
            c.add(join(path, "image.sha256"), "SHA-256 digest must be 32 bytes")
    return c.problems


# No text field of any document is longer than this (characters): names, addresses, descriptions and
# case texts are far shorter, and a field of megabytes is an attack on every system downstream.
MAX_TEXT_CHARS = 8192
# Characters XML 1.0 cannot carry: a document with them could be accepted from JSON or protobuf and then
# never be deliverable to a recipient who reads XML.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text_problems(msg: Message, path: str = "") -> list[Violation]:
    """Every string field, at any depth, longer than MAX_TEXT_CHARS or holding control characters."""
    out: list[Violation] = []
    _text_walk(msg, path, out)
    return out


_SKIP, _STRING, _MESSAGE, _STRING_MAP = 0, 1, 2, 3
_FIELD_KINDS: dict[FieldDescriptor, tuple[int, bool]] = {}


def _field_kind(fd: FieldDescriptor) -> tuple[int, bool]:
    """(kind, repeated) of a field, computed once per field: strings are checked, string maps (extensions)
    have their keys and values checked, messages are walked."""
    kind = _FIELD_KINDS.get(fd)
    if kind is None:
        if fd.type == fd.TYPE_STRING:
            code = _STRING
        elif fd.type == fd.TYPE_MESSAGE and fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            entry = fd.message_type.fields_by_name
            code = _STRING_MAP if entry["key"].type == entry["value"].type == fd.TYPE_STRING else _SKIP
        elif fd.type == fd.TYPE_MESSAGE:
            code = _MESSAGE
        else:
            code = _SKIP
        kind = _FIELD_KINDS[fd] = (code, fd.is_repeated)
    return kind


def _text_problem(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        return f"text is {len(text)} characters, more than the limit of {MAX_TEXT_CHARS}"
    bad = _NOT_XML_CHAR.search(text)
    return f"text holds the control character U+{ord(bad.group()):04X}"  # type: ignore[union-attr]


def _text_walk(msg: Message, path: str, out: list[Violation]) -> None:
    # Paths are built for messages walked into and for strings with a problem only; the common case
    # (a short, clean string) costs one length test and one regex search, inline.
    search = _NOT_XML_CHAR.search
    for fd, value in msg.ListFields():
        code, many = _FIELD_KINDS.get(fd) or _field_kind(fd)
        if code == _STRING:
            if not many:
                if len(value) > MAX_TEXT_CHARS or search(value):
                    out.append(Violation(join(path, fd.name), _text_problem(value)))
                continue
            for i, text in enumerate(value):
                if len(text) > MAX_TEXT_CHARS or search(text):
                    out.append(Violation(join(path, fd.name, i), _text_problem(text)))
        elif code == _MESSAGE:
            if many:
                for i, sub in enumerate(value):
                    _text_walk(sub, join(path, fd.name, i), out)
            else:
                _text_walk(value, join(path, fd.name), out)
        elif code == _STRING_MAP:
            # Extensions travel to every recipient's format too: an XML recipient could not take a value
            # with a control character, so it is refused here, where the sender still can fix it.
            for key, text in value.items():
                for what, checked in (("key", key), ("value", text)):
                    if len(checked) > MAX_TEXT_CHARS or search(checked):
                        out.append(Violation(join(path, fd.name), f"{fd.name} entry {key[:64]!r}: {what}: "
                                                                  f"{_text_problem(checked)}"))


_WIRE_TYPES = {0: "varint", 1: "64-bit", 2: "length-delimited", 3: "group", 5: "32-bit"}


def unknown_field_problems(msg: Message, path: str = "") -> list[Violation]:
    """Every field of a parsed protobuf, at any depth, that its schema does not define.

    Protobuf keeps such fields and writes them out again, so bytes no check ever looked at (text checks see
    only known fields) would travel to every recipient. A path names the message holding the field ("/" is
    the document itself); the reason names the field number and the message type.
    """
    out: list[Violation] = []
    _unknown_walk(msg, path, out)
    return out


def _unknown_walk(msg: Message, path: str, out: list[Violation]) -> None:
    unknown = UnknownFieldSet(msg)
    for i in range(len(unknown)):
        field = unknown[i]
        out.append(Violation(path or "/", f"unknown field number {field.field_number} "
                                          f"({_WIRE_TYPES.get(field.wire_type, 'wire type ' + str(field.wire_type))}) "
                                          f"in {msg.DESCRIPTOR.full_name}: not part of the schema"))
    for fd, value in msg.ListFields():
        if fd.type != fd.TYPE_MESSAGE:
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].type == fd.TYPE_MESSAGE:
                for key, sub in value.items():
                    _unknown_walk(sub, f"{join(path, fd.name)}[{key!r}]", out)
        elif fd.is_repeated:
            for i, sub in enumerate(value):
                _unknown_walk(sub, join(path, fd.name, i), out)
        else:
            _unknown_walk(value, join(path, fd.name), out)


def validate(document_type: str, msg: Message, *, profile: str = PROFILE_AED,
             classes: RuleClasses | None = None) -> list[Violation]:
    """Every problem of a canonical document, with canonical paths; [] for types without rules. ``classes``:
    the directory's rule classes per destination country (``[rules.CC]``), defaults where absent."""
    if document_type == AED:
        return text_problems(msg) + _check_item_batch(msg, profile, classes).problems  # type: ignore[arg-type]
    if document_type == INSPECTION:
        return text_problems(msg) + validate_inspection_batch(msg)  # type: ignore[arg-type]
    return text_problems(msg)


def warnings(document_type: str, msg: Message, *, locate: Locator = identity,
             profile: str = PROFILE_AED) -> list[Violation]:
    """Data-quality warnings of a valid document, with paths translated by ``locate``."""
    if document_type != AED:
        return []
    return [Violation(locate(w.path), w.reason)
            for w in item_batch_warnings(msg, profile=profile)]  # type: ignore[arg-type]


def check(document_type: str, msg: Message, *, locate: Locator = identity, profile: str = PROFILE_AED,
          earlier: list[Violation] | None = None, classes: RuleClasses | None = None) -> None:
    """Raise DocumentError with every violation (paths translated by ``locate``), if there is any.

    ``earlier`` are problems the decoder already found (their paths already point into the input).
    """
    problems = list(earlier or [])
    problems += [Violation(locate(v.path), v.reason)
                 for v in validate(document_type, msg, profile=profile, classes=classes)]
    if problems:
        unique = list(dict.fromkeys(problems))
        raise DocumentError(unique, summary=f"invalid {document_type} document ({len(unique)} problems)")
