"""The Format record: how one format is decoded and encoded (see ``adapters.registry``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from google.protobuf.message import Message

from adapters import validation
from adapters.errors import DocumentError, Violation
from adapters.paths import Locator

#: What a located decoder returns: the message, a translator from canonical field paths to paths into
#: the input, and the problems found while reading (already with input paths).
Decoded = tuple[Message, Locator, list[Violation]]

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Format:
    """A format: ``decode`` reads bytes into the canonical message (structure only; it raises
    DocumentError on unreadable input), ``encode`` writes it. ``decode_located``, when given, also
    returns a locator and the reading problems so that ``registry.decode`` reports every violation with
    a path into the input. ``validation_profile`` says which validation rules ``registry.decode`` runs."""

    name: str
    document_type: str
    decode: Callable[[bytes], Message]
    encode: Callable[[Message], bytes]
    decode_located: Callable[[bytes], Decoded] | None = None
    validation_profile: str = validation.PROFILE_AED
    media_type: str = "application/octet-stream"


def located_format(name: str, document_type: str, decode_located: Callable[[bytes], Decoded],
                   encode: Callable[[M], bytes], *, media_type: str,
                   validation_profile: str = validation.PROFILE_AED) -> Format:
    """A Format whose plain ``decode`` raises the reading problems of ``decode_located``."""

    def decode(content: bytes) -> Message:
        msg, _, problems = decode_located(content)
        if problems:
            raise DocumentError(problems, summary=f"unreadable {name} document")
        return msg

    # The registry hands a format only messages of the document type it declared, so an encoder of that
    # one message type stands in for the general one.
    encode_any = cast(Callable[[Message], bytes], encode)
    return Format(name, document_type, decode, encode_any, decode_located, validation_profile, media_type)


