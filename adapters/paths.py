"""Translating canonical field paths (``items[1].contents[0].hs_code``) into paths into the input.

Validation works on the canonical model and reports canonical field paths. A decoder that reads a
source document records, for every canonical field it could have filled, where that field lives (or
would live) in the input: an XPath for XML, a JSON pointer for JSON. :class:`PathMap` then turns every
violation's canonical path into a path into the input document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from google.protobuf.descriptor import Descriptor, FieldDescriptor

Locator = Callable[[str], str]

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", re.ASCII)


class PathMap:
    """Canonical path → input path; unknown paths fall back to their nearest recorded ancestor.

    Besides single entries, a decoder can record a *scope*: every field of one input element at once,
    as a table of canonical sub-paths → path suffixes. Its paths are only built when a violation is
    located, so a valid document (the common case) pays one dict insert per element, not one string
    per field. A canonical path is expected to be recorded once, either as an entry or in one scope.
    """

    def __init__(self, root: str = "/"):
        self.root = root
        self.entries: dict[str, str] = {}
        self.scopes: dict[str, list[tuple[str, Mapping[str, str]]]] = {}

    def add(self, canonical: str, source: str) -> None:
        self.entries[canonical] = source

    def setdefault(self, canonical: str, source: str) -> None:
        self.entries.setdefault(canonical, source)

    def add_scope(self, canonical: str, source: str, table: Mapping[str, str]) -> None:
        """Record ``join(canonical, sub)`` → ``source + table[sub]`` for every ``sub`` in ``table``."""
        self.scopes.setdefault(canonical, []).append((source, table))

    def _scoped(self, path: str) -> str | None:
        cut = -1
        while True:
            owner, sub = (path[:cut], path[cut + 1:]) if cut >= 0 else ("", path)
            for source, table in self.scopes.get(owner, ()):
                if sub in table:
                    return source + table[sub]
            cut = path.find(".", cut + 1)
            if cut < 0:
                return None

    def locate(self, canonical: str) -> str:
        path = canonical
        while path:
            if path in self.entries:
                return self.entries[path]
            if self.scopes:
                found = self._scoped(path)
                if found is not None:
                    return found
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
