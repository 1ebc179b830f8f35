"""The one place that parses XML (and JSON) for the adapters.

Every document comes from outside the gateway, so parsing is hardened:

- no DTD is loaded, no entity is resolved, no network is touched (lxml ``resolve_entities=False``,
  ``load_dtd=False``, ``no_network=True``, ``huge_tree=False``); any ``<!DOCTYPE`` is refused before
  parsing, and again on the parsed tree's docinfo, so XXE, billion laughs and quadratic blow-up via
  internal entities cannot happen;
- a size limit (``max_bytes``, 4 MiB by default) is checked before anything else;
- a depth limit (``max_depth``) is checked on the parsed tree, by one compiled XPath for limits up to 256
  (libxml2 itself refuses anything deeper than 256 levels while parsing);
- the bytes must be UTF-8 (or declare UTF-8/US-ASCII) and contain no NUL byte.

Every failure is a :class:`~adapters.errors.DocumentError` with path ``/`` and a clear reason.
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from typing import Any

from lxml import etree

from adapters.errors import DocumentError, Violation

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_JSON_DEPTH = 32
NUL = b"\x00"

_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _fail(reason: str) -> DocumentError:
    return DocumentError([Violation("/", reason)], summary="unreadable document")


def check_text(content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, kind: str = "document") -> str:
    """Size, NUL and UTF-8 checks shared by the XML and JSON readers; returns the decoded text."""
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise _fail(f"{kind} must be bytes, not {type(content).__name__}")
    content = bytes(content)
    if len(content) > max_bytes:
        raise _fail(f"{kind} is {len(content)} bytes, more than the limit of {max_bytes} bytes")
    if not content.strip():
        raise _fail(f"{kind} is empty")
    if NUL in content:
        raise _fail(f"{kind} contains a NUL byte at offset {content.index(NUL)}")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(f"{kind} is not valid UTF-8: {exc.reason} at byte {exc.start}") from None


def parse_xml(
    content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._Element:
    """Parse untrusted XML bytes into an lxml element tree; raise DocumentError on anything unsafe."""
    check_text(content, max_bytes=max_bytes, kind="XML document")
    content = bytes(content)
    if _DECLARATION.search(content):
        raise _fail("DOCTYPE and entity declarations are not allowed")
    declared = _DECL_ENCODING.match(content)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        raise _fail(f"XML must be UTF-8, not {declared.group(1).decode('ascii', 'replace')}")
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise _fail(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _fail(f"not readable XML: {exc}") from None
    if root is None:
        raise _fail("no XML root element")
    docinfo: etree.DocInfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _fail("DOCTYPE is not allowed")
    _check_depth(root, max_depth)
    return root


_local = threading.local()


def _parser() -> etree.XMLParser:
    # One hardened parser per thread: building it costs as much as a tenth of a small parse, and a
    # thread's own parser never waits on lxml's per-parser lock held by another thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_pis=True,
            collect_ids=False,
        )
    return parser


# Deeper limits than this are checked by a Python walk: their XPath would be long to compile, and
# libxml2 (without huge_tree) refuses documents deeper than 256 levels anyway.
_XPATH_MAX_DEPTH = 256


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    # True when an element at depth max_depth (the root is depth 1) has a child node that lxml would
    # hand to a reader (element, comment or processing instruction; text is not a node in lxml). The
    # walk runs in libxml2's C code, not as a Python loop over every node.
    steps = "/".join(["*"] * max_depth)
    return etree.XPath(f"boolean(/{steps}[* or comment() or processing-instruction()])")


def _walk_too_deep(root: etree._Element, max_depth: int) -> bool:
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > max_depth:
            return True
        if isinstance(el.tag, str):
            stack.extend((child, depth + 1) for child in el)
    return False


def _check_depth(root: etree._Element, max_depth: int) -> None:
    too_deep = (max_depth < 1 or _too_deep(max_depth)(root) if max_depth <= _XPATH_MAX_DEPTH
                else _walk_too_deep(root, max_depth))
    if too_deep:
        raise _fail(f"XML nesting is deeper than the limit of {max_depth} levels")
    # Entities are never declared (DOCTYPE is refused), so an entity reference node cannot appear; the
    # check stays as a guard should the parser settings ever change.
    for _ in root.iter(etree.Entity):
        raise _fail("entity references are not allowed")


def parse_json(
    content: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_JSON_DEPTH
) -> Any:
    """Parse untrusted JSON bytes; raise DocumentError for oversize, bad UTF-8, NUL, syntax or depth."""
    text = check_text(content, max_bytes=max_bytes, kind="JSON document")
    # Depth is measured on the text before parsing so that a deeply nested input never reaches the
    # recursive parser (brackets inside strings are skipped).
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise _fail(f"JSON nesting is deeper than the limit of {max_depth} levels")
        elif ch in "]}":
            depth -= 1

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Parsers disagree on which of two equal keys wins, so a document that says two things is refused
        # rather than read one way here and another way by the recipient.
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise ValueError(f"duplicate key {key!r}")
            obj[key] = value
        return obj

    try:
        obj = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise _fail(f"not valid JSON: {exc}") from None
    try:
        # "\ud800" escapes decode to lone surrogates, which are not text: refuse them here rather than
        # let them reach code that assumes valid Unicode (protobuf's JSON parser fails on them).
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("not valid JSON text: an escape encodes an unpaired UTF-16 surrogate") from None
    return obj
