"""``upu.ips.v1``: real UPU IPS XML exports (namespace ``http://upu.int/ips``) → ``ItemBatch``.

Decode only: an IPS export is written by IPS, never by the gateway, so ``encode`` raises
UnsupportedConversion. Every populated element and attribute lands in a canonical field or in an
``extensions`` map; the mapping and the extension keys are listed in ``adapters/upu/IPS_MAPPING.md``.
Empty elements mean "absent". Dates without a UTC offset (IPS writes none) are taken as UTC.

Violations point into the input with XPaths that use the prefix ``ips`` for the IPS namespace, e.g.
``/ips:ips/ips:MailItem[3]/@ItemId``.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from google.protobuf.message import Message
from lxml import etree

from adapters import validation
from adapters.errors import DocumentError, UnsupportedConversion, Violation
from adapters.format import Decoded, located_format
from adapters.paths import PathMap, join
from adapters.upu._xmlmap import parse_timestamp, set_path
from adapters.xml import parse_xml
from gateway.api.swg.v1 import item_pb2

NS = "http://upu.int/ips"
NAME = "upu.ips.v1"
EXT = "ips."

# FromIPS leaf elements → PostalItem fields.
ITEM_FIELDS = {
    "LocalId": "local_id",
    "RecptclId": "receptacle_id",
    "ItemWeight": "gross_weight_kg",
    "Value": "declared_value.amount",
    "DutiableValue": "dutiable_value.amount",
    "ClassCd": "mail_class",
    "SubclassCd": "mail_subclass",
    "OrigCountryCd": "origin_country",
    "DestCountryCd": "destination_country",
    "PostagePaidValue": "postage.amount",
    "PostagePaidCurrencyCd": "postage.currency",
}
DISPATCH_FIELDS = {"OrigOfficeCd": "origin_office", "DestOfficeCd": "destination_office"}
PARTY_FIELDS = {
    "Name": "name",
    "Address": "address.line1",
    "City": "address.city",
    "Postcode": "address.postcode",
    "CountryCode": "address.country_code",
}
PARTIES = {"Addressee": "addressee", "Sender": "sender"}
EVENT_FIELDS = {
    "TNCd": "code",
    "OfficeCd": "office",
    "Location": "location",
    "ConditionCd": "condition_code",
    "RetentionReasonCd": "retention_reason",
    "NonDeliveryReasonCd": "non_delivery_reason",
    "NonDeliveryMeasureCd": "non_delivery_measure",
}
EVENT_DATES = {"IPSEvent": "Date", "EDIEvent": "LclDate"}
BOOLS = {"1": True, "0": False, "true": True, "false": False, "Y": True, "N": False}


def _name(el: etree._Element) -> str:
    return etree.QName(el).localname


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _elements(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


class _Decoder:
    def __init__(self) -> None:
        self.problems: list[Violation] = []
        self.paths = PathMap("/ips:ips")
        #: Source XPaths of the populated elements/attributes consumed (for the mapping tests).
        self.consumed: list[str] = []

    def put(self, sink: MutableMapping[str, str], key: str, value: str, xpath: str) -> None:
        """Extension entry; a key seen before in the same map gets a #2, #3 ... suffix."""
        final, n = key, 1
        while final in sink:
            n += 1
            final = f"{key}#{n}"
        sink[final] = value
        self.consumed.append(xpath)

    def rest(self, el: etree._Element, key: str, xpath: str, sink: MutableMapping[str, str]) -> None:
        """Everything populated in ``el`` (attributes, leaves, nested) into extensions under ``key``."""
        self.attributes(el, key, xpath, sink)
        kids = _elements(el)
        if not kids:
            if _text(el):
                self.put(sink, key, _text(el), xpath)
            return
        for child in kids:
            self.rest(child, f"{key}.{_name(child)}", f"{xpath}/ips:{_name(child)}", sink)

    def attributes(self, el: etree._Element, key: str, xpath: str, sink: MutableMapping[str, str],
                   skip: tuple[str, ...] = ()) -> None:
        for attr, value in el.attrib.items():
            local = etree.QName(attr).localname
            if local in skip or not value.strip():
                continue
            self.put(sink, f"{key}@{local}", value.strip(), f"{xpath}/@{local}")

    def scalar(self, msg: Message, canonical: str, field: str, el: etree._Element, xpath: str) -> None:
        self.paths.add(join(canonical, field), xpath)
        if "." in field:
            self.paths.setdefault(join(canonical, field.rsplit(".", 1)[0]), xpath)
        set_path(msg, field, _text(el))
        self.consumed.append(xpath)

    def event(self, item: item_pb2.PostalItem, canonical: str, el: etree._Element, xpath: str) -> None:
        kind = _name(el)
        ev = item.events.add()
        ecanon = join(canonical, "events", len(item.events) - 1)
        self.paths.add(ecanon, xpath)
        if kind == "IPSEvent":
            ev.scheme = item_pb2.EVENT_SCHEME_IPS_TN
        self.attributes(el, EXT.rstrip("."), xpath, ev.extensions)
        for child in _elements(el):
            name, cpath = _name(child), f"{xpath}/ips:{_name(child)}"
            text = _text(child)
            if _elements(child) or child.attrib:
                self.rest(child, EXT + name, cpath, ev.extensions)
            elif not text:
                continue
            elif name in EVENT_FIELDS:
                self.scalar(ev, ecanon, EVENT_FIELDS[name], child, cpath)
            elif name == EVENT_DATES[kind]:
                self.paths.add(join(ecanon, "occurred_at"), cpath)
                try:
                    ev.occurred_at.CopyFrom(parse_timestamp(text))
                    self.consumed.append(cpath)
                except ValueError as exc:
                    self.problems.append(Violation(cpath, str(exc)))
            elif kind == "EDIEvent" and name == "EDIMsg" and text == "EMSEVT":
                ev.scheme = item_pb2.EVENT_SCHEME_EMSEVT
                self.consumed.append(cpath)
            else:
                self.put(ev.extensions, EXT + name, text, cpath)

    def from_ips(self, item: item_pb2.PostalItem, canonical: str, el: etree._Element, xpath: str) -> None:
        self.attributes(el, EXT + "FromIPS", xpath, item.extensions)
        currency: tuple[str, str] | None = None
        category_taken = False
        for child in _elements(el):
            name = _name(child)
            cpath = f"{xpath}/ips:{name}"
            text = _text(child)
            if name == "IPSEvent":
                cpath = f"{xpath}/ips:IPSEvent[{sum(1 for e in item.events if e.scheme == 1) + 1}]"
                self.event(item, canonical, child, cpath)
            elif name == "Dispatch" and not child.attrib:
                for sub in _elements(child):
                    spath = f"{cpath}/ips:{_name(sub)}"
                    if _name(sub) in DISPATCH_FIELDS and _text(sub) and not _elements(sub) and not sub.attrib:
                        self.scalar(item, canonical, DISPATCH_FIELDS[_name(sub)], sub, spath)
                    else:
                        self.rest(sub, f"{EXT}FromIPS.Dispatch.{_name(sub)}", spath, item.extensions)
            elif name in PARTIES and not child.attrib:
                field = PARTIES[name]
                party = getattr(item, field)
                self.paths.add(join(canonical, field), cpath)
                for sub in _elements(child):
                    spath = f"{cpath}/ips:{_name(sub)}"
                    if _name(sub) in PARTY_FIELDS and _text(sub) and not _elements(sub) and not sub.attrib:
                        self.scalar(party, join(canonical, field), PARTY_FIELDS[_name(sub)], sub, spath)
                    else:
                        self.rest(sub, f"{EXT}FromIPS.{name}.{_name(sub)}", spath, item.extensions)
            elif name in ("Letter", "Parcel") and not child.attrib:
                for sub in _elements(child):
                    spath = f"{cpath}/ips:{_name(sub)}"
                    if (_name(sub) == "MailCategoryCd" and not category_taken and _text(sub)
                            and not _elements(sub) and not sub.attrib):
                        self.scalar(item, canonical, "mail_category", sub, spath)
                        category_taken = True
                    else:
                        self.rest(sub, f"{EXT}FromIPS.{name}.{_name(sub)}", spath, item.extensions)
            elif _elements(child) or child.attrib:
                self.rest(child, f"{EXT}FromIPS.{name}", cpath, item.extensions)
            elif not text:
                continue
            elif name in ITEM_FIELDS:
                self.scalar(item, canonical, ITEM_FIELDS[name], child, cpath)
            elif name == "CurrencyCd":
                currency = (text, cpath)
            elif name == "DutiableInd":
                self.paths.add(join(canonical, "dutiable"), cpath)
                if text in BOOLS:
                    item.dutiable = BOOLS[text]
                    self.consumed.append(cpath)
                else:
                    self.problems.append(Violation(cpath, f"{text!r} is not a dutiable indicator (1/0)"))
            else:
                self.put(item.extensions, f"{EXT}FromIPS.{name}", text, cpath)
        if currency is not None:
            text, cpath = currency
            used = False
            for field in ("declared_value", "dutiable_value"):
                if item.HasField(field):
                    getattr(item, field).currency = text
                    self.paths.add(join(canonical, f"{field}.currency"), cpath)
                    used = True
            if used:
                self.consumed.append(cpath)
            else:
                self.put(item.extensions, f"{EXT}FromIPS.CurrencyCd", text, cpath)

    def mail_item(self, batch: item_pb2.ItemBatch, el: etree._Element, xpath: str) -> None:
        item = batch.items.add()
        canonical = join("", "items", len(batch.items) - 1)
        self.paths.add(canonical, xpath)
        self.paths.add(join(canonical, "item_id"), f"{xpath}/@ItemId")
        item_id = el.get("ItemId")
        if item_id is not None and item_id.strip():
            item.item_id = item_id.strip()
            self.consumed.append(f"{xpath}/@ItemId")
        self.attributes(el, EXT + "MailItem", xpath, item.extensions, skip=("ItemId",))
        for child in _elements(el):
            name = _name(child)
            cpath = f"{xpath}/ips:{name}"
            if name == "FromIPS":
                self.from_ips(item, canonical, child, cpath)
            elif name == "FromEDI":
                self.attributes(child, EXT + "FromEDI", cpath, item.extensions)
                edi = 0
                for sub in _elements(child):
                    if _name(sub) == "EDIEvent":
                        edi += 1
                        self.event(item, canonical, sub, f"{cpath}/ips:EDIEvent[{edi}]")
                    else:
                        self.rest(sub, f"{EXT}FromEDI.{_name(sub)}", f"{cpath}/ips:{_name(sub)}", item.extensions)
            else:
                self.rest(child, EXT + name, cpath, item.extensions)


def decode_traced(content: bytes) -> tuple[item_pb2.ItemBatch, PathMap, list[Violation], list[str]]:
    """Decode and also return the XPaths of every populated source node that was mapped."""
    root = parse_xml(content)
    qn = etree.QName(root)
    if qn.namespace != NS or qn.localname != "ips":
        raise DocumentError([Violation("/", f"root element must be {{{NS}}}ips, not {root.tag!s}")],
                            summary="not an IPS export")
    d = _Decoder()
    batch = item_pb2.ItemBatch()
    ref = (root.get("ExportRef") or "").strip()
    if ref:
        batch.batch_reference = ref
        d.consumed.append("/ips:ips/@ExportRef")
    d.paths.add("batch_reference", "/ips:ips/@ExportRef")
    d.paths.add("items", "/ips:ips/ips:MailItem")
    d.attributes(root, EXT.rstrip("."), "/ips:ips", batch.extensions, skip=("ExportRef",))
    n = 0
    for child in _elements(root):
        if _name(child) == "MailItem":
            n += 1
            d.mail_item(batch, child, f"/ips:ips/ips:MailItem[{n}]")
        else:
            d.rest(child, EXT + _name(child), f"/ips:ips/ips:{_name(child)}", batch.extensions)
    return batch, d.paths, d.problems, d.consumed


def decode_located(content: bytes) -> Decoded:
    batch, paths, problems, _ = decode_traced(content)
    return batch, paths.locate, problems


def encode(batch: item_pb2.ItemBatch) -> bytes:
    raise UnsupportedConversion("upu.ips.v1 is read-only: IPS exports are written by IPS, not by the gateway")


FORMAT = located_format(NAME, "swg.aed.v1", decode_located, encode, media_type="application/xml",
                        validation_profile=validation.PROFILE_LOGISTIC)
