"""Which formats exist, which document type each carries, and the decode/encode entry points.

A *document type* is canonical (``swg.aed.v1`` → ``ItemBatch``); a *format* is how an agency
writes it (``upu.itmatt.v1`` XML, ``wco.ecommerce.v1`` JSON, or the canonical protobuf itself).
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from adapters import validation
from adapters.format import Decoded, Format
from adapters.upu import cusrsp, ips, itmatt
from adapters.wco import ecommerce
from adapters.errors import DocumentError, UnknownFormat, UnsupportedConversion, Violation
from adapters.paths import Locator, identity, json_pointer_locator
from adapters.xml import DEFAULT_MAX_BYTES, parse_json
from gateway.api.swg.v1 import assistance_pb2, inspection_pb2, item_pb2, revenue_pb2

AED = "swg.aed.v1"
INSPECTION = "swg.inspection.v1"
REVENUE = "swg.revenue.v1"
ASSISTANCE_REQUEST = "swg.assistance.request.v1"
ASSISTANCE_RESPONSE = "swg.assistance.response.v1"

DOCUMENT_TYPES: dict[str, type[Message]] = {
    AED: item_pb2.ItemBatch,
    INSPECTION: inspection_pb2.InspectionResultBatch,
    REVENUE: revenue_pb2.RevenueNoticeBatch,
    ASSISTANCE_REQUEST: assistance_pb2.AssistanceRequest,
    ASSISTANCE_RESPONSE: assistance_pb2.AssistanceResponse,
}


def _protobuf_format(document_type: str) -> Format:
    cls = DOCUMENT_TYPES[document_type]

    def decode(content: bytes) -> Message:
        msg = cls()
        if len(content) > DEFAULT_MAX_BYTES:
            raise DocumentError([Violation("/", f"document is {len(content)} bytes, more than the limit "
                                                f"of {DEFAULT_MAX_BYTES} bytes")])
        try:
            msg.ParseFromString(content)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise DocumentError([Violation("/", f"not a valid {cls.DESCRIPTOR.full_name} protobuf: {exc}")]) from None
        unknown = validation.unknown_field_problems(msg)
        if unknown:
            raise DocumentError(unknown, summary=f"{document_type} document has fields its schema does not define")
        return msg

    def encode(msg: Message) -> bytes:
        return msg.SerializeToString(deterministic=True)

    return Format(document_type, document_type, decode, encode, media_type="application/x-protobuf")


# Well-known types whose JSON form is a string protobuf parses as a number or a date (not as text).
_PARSED_FROM_TEXT = frozenset({"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
                               "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
                               "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
                               "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
                               "google.protobuf.BoolValue", "google.protobuf.BytesValue"})


def _pointer(parent: str, step: str | int) -> str:
    return f"{parent}/{str(step).replace('~', '~0').replace('/', '~1')}"


def _non_text_strings(obj: Any, descriptor: Descriptor, ptr: str, out: list[Violation]) -> None:
    """JSON strings that protobuf's JSON parser would read as a number, enum, bool, bytes or date must be ASCII.

    It reads them with int(), float() and datetime, which also take fullwidth and Arabic-Indic digits
    ("\uff11\uff12" would be the quantity 12): the document would mean something else to a recipient
    who reads it byte for byte. Text fields (strings) are left alone; structure errors are the parser's.
    """
    if not isinstance(obj, dict):
        return
    fields = _json_fields(descriptor)
    for key, value in obj.items():
        fd = fields.get(key)
        if fd is None:
            continue
        where = _pointer(ptr, key)
        if fd.type == fd.TYPE_MESSAGE and fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            if isinstance(value, dict):
                for k, v in value.items():
                    if key_fd.type != key_fd.TYPE_STRING and not k.isascii():
                        out.append(Violation(_pointer(where, k), "map key must be written in ASCII digits"))
                    _non_text_value(v, value_fd, _pointer(where, k), out)
        elif fd.is_repeated and isinstance(value, list):
            for i, v in enumerate(value):
                _non_text_value(v, fd, _pointer(where, i), out)
        else:
            _non_text_value(value, fd, where, out)


def _non_text_value(value: Any, fd: FieldDescriptor, where: str, out: list[Violation]) -> None:
    if fd.type == fd.TYPE_MESSAGE:
        sub = fd.message_type
        if sub is None:
            return
        if sub.full_name in _PARSED_FROM_TEXT:
            if isinstance(value, str) and not value.isascii():
                out.append(Violation(where, f"a {sub.name} must be written in ASCII characters (digits 0-9), "
                                            f"got {value[:64]!r}"))
        elif not sub.full_name.startswith("google.protobuf."):
            _non_text_strings(value, sub, where, out)
    elif fd.type != fd.TYPE_STRING and isinstance(value, str) and not value.isascii():
        out.append(Violation(where, f"a number, enum, bool or bytes value must be written in ASCII characters "
                                    f"(digits 0-9), got {value[:64]!r}"))


_JSON_FIELDS: dict[str, dict[str, FieldDescriptor]] = {}


def _json_fields(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields by every key protobuf's JSON parser accepts for them (JSON name and proto name)."""
    found = _JSON_FIELDS.get(descriptor.full_name)
    if found is None:
        found = {}
        for fd in descriptor.fields:
            found[fd.name] = fd
            found[fd.json_name] = fd
        _JSON_FIELDS[descriptor.full_name] = found
    return found


def _json_format(document_type: str) -> Format:
    cls = DOCUMENT_TYPES[document_type]

    descriptor = cls.DESCRIPTOR
    # The C (upb) descriptor registers as a subclass of the Python one, so this holds at run time.
    assert isinstance(descriptor, Descriptor)

    def decode(content: bytes) -> Message:
        obj = parse_json(content)
        problems: list[Violation] = []
        _non_text_strings(obj, descriptor, "", problems)
        if problems:
            raise DocumentError(problems, summary=f"invalid {document_type}+json document")
        try:
            return json_format.ParseDict(obj, cls(), max_recursion_depth=32)
        except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
            raise DocumentError([Violation("/", f"not valid {document_type}+json: {exc}")]) from None

    def encode(msg: Message) -> bytes:
        return json_format.MessageToJson(msg, indent=2, sort_keys=True).encode("utf-8")

    locate = json_pointer_locator(descriptor)

    def decode_located(content: bytes) -> Decoded:
        return decode(content), locate, []

    return Format(document_type + "+json", document_type, decode, encode, decode_located,
                  media_type="application/json")


_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> None:
    _FORMATS[fmt.name] = fmt


for _dt in DOCUMENT_TYPES:
    register(_protobuf_format(_dt))
    register(_json_format(_dt))


def get(name: str) -> Format:
    try:
        return _FORMATS[name]
    except KeyError:
        raise UnknownFormat(name, sorted(_FORMATS)) from None


def known_formats() -> list[str]:
    return sorted(_FORMATS)


def formats_for(document_type: str) -> list[str]:
    return sorted(f.name for f in _FORMATS.values() if f.document_type == document_type)


def _read(name: str, content: bytes) -> tuple[Format, Message, Locator, list[Violation]]:
    """The format named ``name`` and ``content`` decoded in it, with a locator of paths into the input and the
    problems found while reading (a format without a locating decoder reports canonical paths)."""
    fmt = get(name)
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise DocumentError([Violation("/", f"document must be bytes, not {type(content).__name__}")])
    content = bytes(content)
    if fmt.decode_located is not None:
        msg, locate, problems = fmt.decode_located(content)
    else:
        msg, locate, problems = fmt.decode(content), identity, []
    return fmt, msg, locate, problems


def decode(name: str, content: bytes, *, profile: str | None = None) -> tuple[str, Message]:
    """``decode_with_warnings`` without the warnings."""
    document_type, msg, _ = decode_with_warnings(name, content, profile=profile)
    return document_type, msg


def decode_with_warnings(name: str, content: bytes, *,
                         profile: str | None = None) -> tuple[str, Message, list[Violation]]:
    """Decode ``content`` written in format ``name``; returns (document type, canonical message).

    The decoded message is validated (``adapters.validation``) for the document types that have rules
    (swg.aed.v1, swg.inspection.v1); DocumentError carries every violation found, each with a path into
    the input: XPath for XML formats, JSON pointer for JSON formats, canonical field path for protobuf.
    The warnings (same paths) are what is accepted but worth telling the sender, e.g. an IPS item of weight 0.
    ``profile`` replaces the format's validation profile (a relayed canonical document is checked with the
    profile of the format it was first submitted in).
    """
    fmt, msg, locate, problems = _read(name, content)
    checked = profile or fmt.validation_profile
    validation.check(fmt.document_type, msg, locate=locate, profile=checked, earlier=problems)
    return fmt.document_type, msg, validation.warnings(fmt.document_type, msg, locate=locate, profile=checked)


@dataclass(frozen=True)
class ItemCheck:
    """The problems and warnings of one item of a document (paths into the submitted document)."""

    index: int
    item_id: str
    path: str
    problems: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    # Ids of the warning rules the item breaks (its data-quality flags for the recipient customs).
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PerItem:
    """A decoded document with its problems told apart per item (``decode_per_item``).

    ``document_problems`` concern the document as a whole (its header, "no item", a problem the decoder
    could not place in one item): any of them refuses the whole document. ``items`` is empty for the
    document types without items (all their problems are then document problems).
    """

    document_type: str
    msg: Message
    document_problems: tuple[Violation, ...]
    items: tuple[ItemCheck, ...]

    @property
    def refused(self) -> tuple[ItemCheck, ...]:
        return tuple(i for i in self.items if i.problems)

    @property
    def accepted(self) -> tuple[ItemCheck, ...]:
        return tuple(i for i in self.items if not i.problems)

    def all_problems(self) -> list[Violation]:
        return list(dict.fromkeys([*self.document_problems, *(v for i in self.items for v in i.problems)]))

    def all_warnings(self) -> list[Violation]:
        return [w for i in self.items if not i.problems for w in i.warnings]


_ITEM = re.compile(r"items\[(\d+)\]", re.ASCII)


def _owner(path: str, prefixes: list[tuple[str, int]]) -> int | None:
    """The item whose located path ``path`` is inside, or None."""
    for prefix, index in prefixes:
        if path == prefix or (path.startswith(prefix) and path[len(prefix)] in "/."):
            return index
    return None


def decode_per_item(name: str, content: bytes, *, profile: str | None = None,
                    classes: validation.RuleClasses | None = None) -> PerItem:
    """Decode ``content`` and check it item by item (swg.aed.v1): every violation of the document, each
    attributed to the item it is in, or to the document. Raises DocumentError only when the document
    cannot be read at all (or names an unknown format: UnknownFormat); the caller decides what to accept.
    """
    fmt, msg, locate, earlier = _read(name, content)
    checked = profile or fmt.validation_profile
    document_type = fmt.document_type
    if document_type != AED:
        found = validation.validate(document_type, msg, profile=checked)
        problems = list(earlier) + [Violation(locate(v.path), v.reason) for v in found]
        return PerItem(document_type, msg, tuple(dict.fromkeys(problems)), ())
    found, warned, flagged = validation.check_item_batch(msg, profile=checked, classes=classes)  # type: ignore[arg-type]
    items = msg.items  # type: ignore[attr-defined]
    flags: list[list[str]] = [[] for _ in items]
    for path, rule_id in flagged:
        m = _ITEM.match(path)
        if m is not None and int(m.group(1)) < len(items) and rule_id not in flags[int(m.group(1))]:
            flags[int(m.group(1))].append(rule_id)
    paths = [locate(f"items[{n}]") for n in range(len(items))]
    # Longest first: a nested element's path is never taken for its parent's.
    prefixes = sorted(((p, n) for n, p in enumerate(paths) if p != "/"), key=lambda x: -len(x[0]))
    per: list[list[Violation]] = [[] for _ in items]
    per_warn: list[list[Violation]] = [[] for _ in items]
    document: list[Violation] = []
    for v in earlier:
        n = _owner(v.path, prefixes)
        (document if n is None else per[n]).append(v)
    for v, out, doc_out in ((v, per, document) for v in found):
        m = _ITEM.match(v.path)
        located = Violation(locate(v.path), v.reason)
        (doc_out if m is None or int(m.group(1)) >= len(items) else out[int(m.group(1))]).append(located)
    for w in warned:
        m = _ITEM.match(w.path)
        located = Violation(locate(w.path), w.reason)
        if m is not None and int(m.group(1)) < len(items):
            per_warn[int(m.group(1))].append(located)
    checks = tuple(ItemCheck(n, item.item_id, paths[n], tuple(dict.fromkeys(per[n])), tuple(per_warn[n]),
                             tuple(flags[n])) for n, item in enumerate(items))
    return PerItem(document_type, msg, tuple(dict.fromkeys(document)), checks)


def encode(name: str, document_type: str, msg: Message) -> bytes:
    """Write canonical ``msg`` of ``document_type`` in format ``name``."""
    fmt = get(name)
    if fmt.document_type != document_type:
        raise UnsupportedConversion(f"format {name} carries {fmt.document_type}, not {document_type}")
    expected = DOCUMENT_TYPES[document_type]
    if not isinstance(msg, expected):
        raise UnsupportedConversion(f"{document_type} is a {expected.DESCRIPTOR.full_name}, "
                                    f"not a {type(msg).__name__}")
    return fmt.encode(msg)


for _fmt in (itmatt.FORMAT, cusrsp.FORMAT, ips.FORMAT, ecommerce.FORMAT):
    register(_fmt)
