"""Which formats exist, which document type each carries, and the decode/encode entry points.

A *document type* is canonical (``swg.aed.v1`` → ``ItemBatch``); a *format* is how an agency
writes it (``upu.itmatt.v1`` XML, ``wco.ecommerce.v1`` JSON, or the canonical protobuf itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from adapters.errors import DocumentError, UnknownFormat, UnsupportedConversion, Violation
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


@dataclass(frozen=True)
class Format:
    name: str
    document_type: str
    decode: Callable[[bytes], Message]
    encode: Callable[[Message], bytes]


def _protobuf_format(document_type: str) -> Format:
    cls = DOCUMENT_TYPES[document_type]

    def decode(content: bytes) -> Message:
        msg = cls()
        try:
            msg.ParseFromString(content)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise DocumentError([Violation("/", f"not a valid {cls.DESCRIPTOR.full_name} protobuf: {exc}")]) from None
        return msg

    def encode(msg: Message) -> bytes:
        return msg.SerializeToString(deterministic=True)

    return Format(document_type, document_type, decode, encode)


def _json_format(document_type: str) -> Format:
    cls = DOCUMENT_TYPES[document_type]

    def decode(content: bytes) -> Message:
        try:
            return json_format.Parse(content.decode("utf-8"), cls())
        except UnicodeDecodeError as exc:
            raise DocumentError([Violation("/", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None
        except (json_format.ParseError, RecursionError, ValueError) as exc:
            raise DocumentError([Violation("/", f"not valid {document_type}+json: {exc}")]) from None

    def encode(msg: Message) -> bytes:
        return json_format.MessageToJson(msg, indent=2, sort_keys=True).encode("utf-8")

    return Format(document_type + "+json", document_type, decode, encode)


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
    """Decode ``content`` written in format ``name``; returns (document type, canonical message)."""
    fmt = get(name)
    return fmt.document_type, fmt.decode(content)


def encode(name: str, document_type: str, msg: Message) -> bytes:
    """Write canonical ``msg`` of ``document_type`` in format ``name``."""
    fmt = get(name)
    if fmt.document_type != document_type:
        raise UnsupportedConversion(f"format {name} carries {fmt.document_type}, not {document_type}")
    return fmt.encode(msg)
