"""Shared machinery of the project's own XML formats (ITMATT-style, CUSRSP-style).

A *spec* lists, in XSD sequence order, the leaf elements of one XML element and the canonical field
each fills: ``(element name, dotted canonical sub-path, kind)``. The reader checks structure (unknown
or repeated elements, stray text/attributes), converts text, records where every canonical field lives
(``PathMap``) and collects every problem; the writer emits the same elements in spec order, omitting
fields that are absent. An empty element means "absent".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from lxml import etree

from adapters.errors import UnsupportedConversion, Violation
from adapters.paths import PathMap, join

Spec = list[tuple[str, str, str]]

_UINT = re.compile(r"^\d{1,10}$")


def parse_timestamp(text: str) -> Timestamp:
    """RFC 3339 / ISO 8601 date-time; without a UTC offset the time is taken as UTC."""
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


def get_path(msg: Message, path: str) -> Any:
    """Value at dotted ``path``; None when a message on the way, or the field itself, is absent."""
    parts = path.split(".")
    for part in parts[:-1]:
        if not msg.HasField(part):
            return None
        msg = getattr(msg, part)
    last = parts[-1]
    fd = msg.DESCRIPTOR.fields_by_name[last]
    if fd.has_presence and not msg.HasField(last):
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
                 attributes: Iterable[str] = ()) -> dict[str, list[tuple[etree._Element, str]]]:
        """Child elements by local name with their XPaths; records problems for anything unexpected."""
        allowed = set(allowed)
        repeatable = set(repeatable)
        for attr in el.attrib:
            if attr not in set(attributes):
                self.problem(f"{xpath}/@{attr}", f"unexpected attribute {attr}")
        if el.text and el.text.strip():
            self.problem(xpath, "unexpected text in a structured element")
        out: dict[str, list[tuple[etree._Element, str]]] = {}
        for child in el:
            if child.tail and child.tail.strip():
                self.problem(xpath, "unexpected text in a structured element")
            if not isinstance(child.tag, str):
                continue
            qn = etree.QName(child)
            if qn.namespace != self.ns or qn.localname not in allowed:
                where = f"{xpath}/{qn.localname if qn.namespace != self.ns else self.prefix + ':' + qn.localname}"
                self.problem(where, f"unexpected element {child.tag}")
                continue
            name = qn.localname
            got = out.setdefault(name, [])
            if name in repeatable:
                got.append((child, self.step(xpath, name, len(got) + 1)))
            elif got:
                self.problem(self.step(xpath, name), f"{name} appears more than once")
            else:
                got.append((child, self.step(xpath, name)))
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
            if not _UINT.match(text) or int(text) > 0xFFFFFFFF:
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

    def fill(self, msg: Message, canonical: str, xpath: str,
             kids: dict[str, list[tuple[etree._Element, str]]], spec: Spec) -> None:
        """Fill the leaf fields of ``spec`` from ``kids``; record where each canonical field lives."""
        for name, sub, kind in spec:
            found = kids.get(name)
            where = found[0][1] if found else self.step(xpath, name)
            self.paths.add(join(canonical, sub), where)
            if "." in sub:
                self.paths.setdefault(join(canonical, sub.rsplit(".", 1)[0]), where)
            if not found:
                continue
            text = self.text(found[0][0], where)
            if text == "":
                continue
            value = self.convert(text, kind, where)
            if value is not None:
                set_path(msg, sub, value)

    def extensions(self, target: Any, canonical: str, xpath: str,
                   kids: dict[str, list[tuple[etree._Element, str]]]) -> None:
        """``<Extensions><Extension Key="k">v</Extension>…</Extensions>`` into a map<string,string>."""
        for ext_el, ext_path in kids.get("Extensions", []):
            self.paths.add(join(canonical, "extensions"), ext_path)
            entries = self.children(ext_el, ext_path, ["Extension"], ["Extension"])
            for entry, entry_path in entries.get("Extension", []):
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
            return value
        if kind == "ts":
            return format_timestamp(value)
        if kind == "uint":
            return str(value)
        if kind == "bool":
            return "true" if value else "false"
        if kind == "hex":
            return value.hex()
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
        reader.problem("/", f"root element must be {{{reader.ns}}}{name}, not {root.tag}")
        return False
    return True


ExtractFn = Callable[[Message, str, str, dict[str, list[tuple[etree._Element, str]]]], None]
