"""Which formats exist, which document type each carries, and the decode/encode entry points.

A *document type* is canonical (``swg.aed.v1`` → ``ItemBatch``); a *format* is how an agency
writes it (``upu.itmatt.v1`` XML, ``wco.ecommerce.v1`` JSON, or the canonical protobuf itself).
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message

from adapters import validation
from adapters.format import Decoded, Format
from adapters.upu import cusrsp, ips, itmatt
from adapters.wco import ecommerce
from adapters.errors import DocumentError, UnknownFormat, UnsupportedConversion, Violation
from adapters.paths import identity, json_pointer_locator
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
        return msg

    def encode(msg: Message) -> bytes:
        return msg.SerializeToString(deterministic=True)

    return Format(document_type, document_type, decode, encode, media_type="application/x-protobuf")


def _json_format(document_type: str) -> Format:
    cls = DOCUMENT_TYPES[document_type]

    def decode(content: bytes) -> Message:
        obj = parse_json(content)
        try:
            return json_format.ParseDict(obj, cls(), max_recursion_depth=32)
        except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
            raise DocumentError([Violation("/", f"not valid {document_type}+json: {exc}")]) from None

    def encode(msg: Message) -> bytes:
        return json_format.MessageToJson(msg, indent=2, sort_keys=True).encode("utf-8")

    descriptor = cls.DESCRIPTOR
    # The C (upb) descriptor registers as a subclass of the Python one, so this holds at run time.
    assert isinstance(descriptor, Descriptor)
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


def decode(name: str, content: bytes) -> tuple[str, Message]:
    """``decode_with_warnings`` without the warnings."""
    document_type, msg, _ = decode_with_warnings(name, content)
    return document_type, msg


def decode_with_warnings(name: str, content: bytes) -> tuple[str, Message, list[Violation]]:
    """Decode ``content`` written in format ``name``; returns (document type, canonical message).

    The decoded message is validated (``adapters.validation``) for the document types that have rules
    (swg.aed.v1, swg.inspection.v1); DocumentError carries every violation found, each with a path into
    the input: XPath for XML formats, JSON pointer for JSON formats, canonical field path for protobuf.
    The warnings (same paths) are what is accepted but worth telling the sender, e.g. an IPS item of weight 0.
    """
    fmt = get(name)
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise DocumentError([Violation("/", f"document must be bytes, not {type(content).__name__}")])
    content = bytes(content)
    if fmt.decode_located is not None:
        msg, locate, problems = fmt.decode_located(content)
    else:
        msg, locate, problems = fmt.decode(content), identity, []
    validation.check(fmt.document_type, msg, locate=locate, profile=fmt.validation_profile, earlier=problems)
    return fmt.document_type, msg, validation.warnings(fmt.document_type, msg, locate=locate,
                                                       profile=fmt.validation_profile)


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
