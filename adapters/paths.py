"""Translating canonical field paths (``items[1].contents[0].hs_code``) into paths into the input.

Validation works on the canonical model and reports canonical field paths. A decoder that reads a
source document records, for every canonical field it could have filled, where that field lives (or
would live) in the input: an XPath for XML, a JSON pointer for JSON. :class:`PathMap` then turns every
violation's canonical path into a path into the input document.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from google.protobuf.descriptor import Descriptor, FieldDescriptor

Locator = Callable[[str], str]

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


class PathMap:
    """Canonical path → input path; unknown paths fall back to their nearest recorded ancestor."""

    def __init__(self, root: str = "/"):
        self.root = root
        self.entries: dict[str, str] = {}

    def add(self, canonical: str, source: str) -> None:
        self.entries[canonical] = source

    def setdefault(self, canonical: str, source: str) -> None:
        self.entries.setdefault(canonical, source)

    def locate(self, canonical: str) -> str:
        path = canonical
        while path:
            if path in self.entries:
                return self.entries[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.root


def identity(path: str) -> str:
    return path or "/"


def join(parent: str, field: str, index: int | None = None) -> str:
    """Build a canonical path: ``join("items[1]", "contents", 0)`` → ``items[1].contents[0]``."""
    base = f"{parent}.{field}" if parent else field
    return base if index is None else f"{base}[{index}]"


def json_pointer_locator(descriptor: Descriptor) -> Locator:
    """Locator for the protobuf JSON form: canonical field names → JSON names, indices → pointer steps."""

    def locate(canonical: str) -> str:
        out: list[str] = []
        desc: Descriptor | None = descriptor
        for part in canonical.split("."):
            m = _SEGMENT.fullmatch(part)
            if not m:
                break
            name, index = m.group(1), m.group(2)
            field = desc.fields_by_name.get(name) if desc is not None else None
            out.append(field.json_name if field is not None else name)
            if index is not None:
                out.append(index)
            desc = field.message_type if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE else None
        return "/" + "/".join(o.replace("~", "~0").replace("/", "~1") for o in out) if out else "/"

    return locate
