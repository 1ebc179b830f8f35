"""Shared machinery of the project's own XML formats (ITMATT-style, CUSRSP-style).

A *spec* lists, in XSD sequence order, the leaf elements of one XML element and the canonical field
each fills: ``(element name, dotted canonical sub-path, kind)``. The reader checks structure (unknown
or repeated elements, stray text/attributes), converts text, records where every canonical field lives
(``PathMap``) and collects every problem; the writer emits the same elements in spec order, omitting
fields that are absent. An empty element means "absent".

Reading is on the hot path of every submit, so the reader does per element only what a valid document
needs: child tags are matched against a precomputed ``{namespace}name`` table (no QName objects), and
XPaths are built only for structural elements and for problems; a leaf's XPath is recorded as part of
its parent's scope (``PathMap.add_scope``) and only spelled out when a violation is located.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from lxml import etree

from adapters.errors import UnsupportedConversion, Violation
from adapters.paths import PathMap, join


class Spec(tuple[tuple[str, str, str], ...]):
    """``(element name, canonical sub-path, kind)`` entries, in XSD order, with what the reader needs
    precomputed once: the element names and the sub-paths split at their dots."""

    names: tuple[str, ...]
    #: (element name, kind, messages on the way to the field, the field)
    fields: tuple[tuple[str, str, tuple[str, ...], str], ...]
    _tables: dict[str, dict[str, str]]

    def __new__(cls, entries: Iterable[tuple[str, str, str]]) -> Spec:
        self = super().__new__(cls, tuple(entries))
        self.names = tuple(name for name, _, _ in self)
        self.fields = tuple((name, kind, tuple(sub.split(".")[:-1]), sub.split(".")[-1]) for name, sub, kind in self)
        self._tables = {}
        return self

    def table(self, prefix: str) -> dict[str, str]:
        """Canonical sub-path → XPath suffix; a dotted field's parent message points at its first element."""
        table = self._tables.get(prefix)
        if table is None:
            table = {}
            for name, sub, _ in self:
                table[sub] = f"/{prefix}:{name}"
            for name, sub, _ in self:
                if "." in sub:
                    table.setdefault(sub.rsplit(".", 1)[0], f"/{prefix}:{name}")
            self._tables[prefix] = table
        return table


@lru_cache(maxsize=64)
def _tag_table(ns: str, allowed: tuple[str, ...], repeatable: tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    """``{ns}name`` → (name, repeatable) for the allowed children of one element."""
    return {f"{{{ns}}}{name}": (name, name in repeatable) for name in allowed}


Kids = dict[str, list[etree._Element]]

_UINT = re.compile(r"\d{1,10}", re.ASCII)
_BOOLS = {"true": True, "1": True, "false": False, "0": False}
_SLOW = object()


def parse_timestamp(text: str) -> Timestamp:
    """RFC 3339 / ISO 8601 date-time; without a UTC offset the time is taken as UTC."""
    if not text.isascii():
        # protobuf's parser reads fullwidth and Arabic-Indic digits as 0-9 (datetime does not): a date is
        # written in ASCII, or a recipient reading the text could see another date than the one stored.
        raise ValueError(f"{text[:64]!r} is not an ISO 8601 date-time (digits must be ASCII 0-9)")
    ts = Timestamp()
    try:
        ts.FromJsonString(text)
        return ts
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        ts.FromDatetime(when)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is out of range") from None
    return ts


def format_timestamp(ts: Timestamp) -> str:
    try:
        return ts.ToJsonString()
    except ValueError as exc:
        raise UnsupportedConversion(f"timestamp cannot be written: {exc}") from None


@dataclass
class Enum:
    """A code list: text in the document ↔ enum number in the canonical model."""

    to_number: dict[str, int]
    to_text: dict[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.to_text = {v: k for k, v in self.to_number.items()}


# (message descriptor, dotted path) → (messages on the way, last field, whether it tracks presence):
# the writers read the same few dozen paths from every document.
_PLANS: dict[tuple[Any, str], tuple[tuple[str, ...], str, bool]] = {}


def _plan(descriptor: Any, path: str) -> tuple[tuple[str, ...], str, bool]:
    *heads, last = path.split(".")
    for part in heads:
        descriptor = descriptor.fields_by_name[part].message_type
    return tuple(heads), last, descriptor.fields_by_name[last].has_presence


def get_path(msg: Message, path: str) -> Any:
    """Value at dotted ``path``; None when a message on the way, or the field itself, is absent."""
    key = (msg.DESCRIPTOR, path)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(msg.DESCRIPTOR, path)
    heads, last, presence = plan
    for part in heads:
        if not msg.HasField(part):
            return None
        msg = getattr(msg, part)
    if presence and not msg.HasField(last):
        return None
    return getattr(msg, last)


def set_path(msg: Message, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        msg = getattr(msg, part)
    last = parts[-1]
    if isinstance(value, Message):
        getattr(msg, last).CopyFrom(value)
    else:
        setattr(msg, last, value)


class Reader:
    def __init__(self, ns: str, prefix: str, enums: dict[str, Enum]):
        self.ns = ns
        self.prefix = prefix
        self.enums = enums
        self.problems: list[Violation] = []
        self.paths = PathMap("/")

    def qname(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def step(self, xpath: str, name: str, index: int | None = None) -> str:
        s = f"{xpath}/{self.prefix}:{name}"
        return s if index is None else f"{s}[{index}]"

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Violation(path, reason))

    def children(self, el: etree._Element, xpath: str, allowed: Iterable[str], repeatable: Iterable[str] = (),
                 attributes: Iterable[str] = ()) -> Kids:
        """Child elements by local name, in document order; records problems for anything unexpected.

        A child's XPath is ``step(xpath, name)``, or ``step(xpath, name, i + 1)`` for the i-th of a
        repeatable name."""
        tags = _tag_table(self.ns, tuple(allowed), tuple(repeatable))
        if len(el.attrib):
            for attr in el.attrib:
                if attr not in set(attributes):
                    self.problem(f"{xpath}/@{attr}", f"unexpected attribute {attr}")
        text = el.text
        if text and not text.isspace():
            self.problem(xpath, "unexpected text in a structured element")
        out: Kids = {}
        for child in el:
            tail = child.tail
            if tail and not tail.isspace():
                self.problem(xpath, "unexpected text in a structured element")
            hit = tags.get(child.tag) if isinstance(child.tag, str) else None
            if hit is None:
                if isinstance(child.tag, str):
                    qn = etree.QName(child)
                    local = qn.localname if qn.namespace != self.ns else self.prefix + ":" + qn.localname
                    self.problem(f"{xpath}/{local}", f"unexpected element {child.tag}")
                continue
            name, many = hit
            got = out.get(name)
            if got is None:
                out[name] = [child]
            elif many:
                got.append(child)
            else:
                self.problem(self.step(xpath, name), f"{name} appears more than once")
        return out

    def text(self, el: etree._Element, xpath: str) -> str:
        if any(isinstance(child.tag, str) for child in el):
            self.problem(xpath, "a value element must not contain elements")
        for attr in el.attrib:
            self.problem(f"{xpath}/@{attr}", f"unexpected attribute {attr}")
        # Comments inside a value are skipped: the value is the text around them.
        return ((el.text or "") + "".join(child.tail or "" for child in el)).strip()

    def convert(self, text: str, kind: str, xpath: str) -> Any:
        """Text → canonical value; None (and a problem) when the text cannot be converted."""
        if kind == "str":
            return text
        if kind == "ts":
            try:
                return parse_timestamp(text)
            except ValueError as exc:
                self.problem(xpath, str(exc))
                return None
        if kind == "uint":
            if not _UINT.fullmatch(text) or int(text) > 0xFFFFFFFF:
                self.problem(xpath, f"{text!r} is not a whole number")
                return None
            return int(text)
        if kind == "bool":
            if text in ("true", "1"):
                return True
            if text in ("false", "0"):
                return False
            self.problem(xpath, f"{text!r} is not a boolean (true/false)")
            return None
        if kind == "hex":
            try:
                return bytes.fromhex(text)
            except ValueError:
                self.problem(xpath, f"{text!r} is not hexadecimal")
                return None
        enum = self.enums[kind]
        if text in enum.to_number:
            return enum.to_number[text]
        self.problem(xpath, f"{text!r} is not in the code list ({', '.join(enum.to_number)})")
        return None

    def fill(self, msg: Message, canonical: str, xpath: str, kids: Kids, spec: Spec) -> None:
        """Fill the leaf fields of ``spec`` from ``kids``; record where each canonical field lives."""
        self.paths.add_scope(canonical, xpath, spec.table(self.prefix))
        for name, kind, heads, last in spec.fields:
            found = kids.get(name)
            if not found:
                continue
            el = found[0]
            text = self.text(el, self.step(xpath, name)) if len(el) or len(el.attrib) else (el.text or "").strip()
            if not text:
                continue
            if kind == "str":
                value: Any = text
            else:
                value = self._quick(text, kind)
                if value is _SLOW:
                    # Anything unusual (and every timestamp) goes the long way, which names the element.
                    value = self.convert(text, kind, self.step(xpath, name))
                    if value is None:
                        continue
            target = msg
            for part in heads:
                target = getattr(target, part)
            if isinstance(value, Message):
                getattr(target, last).CopyFrom(value)
            else:
                setattr(target, last, value)

    def _quick(self, text: str, kind: str) -> Any:
        """The value of well-formed text for the common kinds, else _SLOW (never a problem here)."""
        if kind == "uint":
            return int(text) if _UINT.fullmatch(text) and int(text) <= 0xFFFFFFFF else _SLOW
        if kind == "bool":
            return _BOOLS.get(text, _SLOW)
        enum = self.enums.get(kind)
        return enum.to_number.get(text, _SLOW) if enum is not None else _SLOW

    def extensions(self, target: Any, canonical: str, xpath: str, kids: Kids) -> None:
        """``<Extensions><Extension Key="k">v</Extension>…</Extensions>`` into a map<string,string>."""
        if "Extensions" not in kids:
            return
        ext_path = self.step(xpath, "Extensions")
        self.paths.add(join(canonical, "extensions"), ext_path)
        entries = self.children(kids["Extensions"][0], ext_path, ("Extension",), ("Extension",))
        for i, entry in enumerate(entries.get("Extension", ())):
            entry_path = self.step(ext_path, "Extension", i + 1)
            if len(entry):
                self.problem(entry_path, "an extension value must not contain elements")
            key = entry.get("Key")
            for attr in entry.attrib:
                if attr != "Key":
                    self.problem(f"{entry_path}/@{attr}", f"unexpected attribute {attr}")
            if not key:
                self.problem(entry_path, "extension without a Key attribute")
            elif key in target:
                self.problem(f"{entry_path}/@Key", f"extension key {key!r} appears more than once")
            else:
                target[key] = (entry.text or "").strip()


class Writer:
    def __init__(self, ns: str, prefix: str, enums: dict[str, Enum]):
        self.ns = ns
        self.prefix = prefix
        self.enums = enums

    def el(self, parent: etree._Element | None, name: str, text: str | None = None,
           attrib: dict[str, str] | None = None) -> etree._Element:
        tag = f"{{{self.ns}}}{name}"
        try:
            node = (etree.Element(tag, nsmap={self.prefix: self.ns}) if parent is None
                    else etree.SubElement(parent, tag))
            for k, v in (attrib or {}).items():
                node.set(k, v)
            if text is not None:
                node.text = text
        except ValueError as exc:
            raise UnsupportedConversion(f"{name}: value cannot be written in XML: {exc}") from None
        return node

    def text_of(self, value: Any, kind: str) -> str:
        if kind == "str":
            return str(value)
        if kind == "ts":
            return format_timestamp(value)
        if kind == "uint":
            return str(value)
        if kind == "bool":
            return "true" if value else "false"
        if kind == "hex":
            return bytes(value).hex()
        enum = self.enums[kind]
        if value not in enum.to_text:
            raise UnsupportedConversion(f"value {value} has no code in this format")
        return enum.to_text[value]

    def fill(self, parent: etree._Element, msg: Message, spec: Spec) -> None:
        for name, sub, kind in spec:
            value = get_path(msg, sub)
            if value is None or (kind != "bool" and kind != "ts" and not value):
                continue
            self.el(parent, name, self.text_of(value, kind))

    def has_any(self, msg: Message, spec: Spec) -> bool:
        for _, sub, kind in spec:
            value = get_path(msg, sub)
            if value is not None and (kind in ("bool", "ts") or value):
                return True
        return False

    def extensions(self, parent: etree._Element, mapping: Any) -> None:
        if not mapping:
            return
        box = self.el(parent, "Extensions")
        for key in sorted(mapping):
            self.el(box, "Extension", mapping[key], {"Key": key})

    def serialise(self, root: etree._Element) -> bytes:
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def root_check(reader: Reader, root: etree._Element, name: str) -> bool:
    qn = etree.QName(root)
    if qn.namespace != reader.ns or qn.localname != name:
        reader.problem("/", f"root element must be {{{reader.ns}}}{name}, not {root.tag!s}")
        return False
    return True


ExtractFn = Callable[[Message, str, str, Kids], None]
