"""``wco.ecommerce.v1``: the WCO e-commerce dataset as JSON ↔ ``ItemBatch`` (swg.aed.v1).

Keys are WCO data model class/element names; a key that corresponds to a WCO data model element
carries its id in parentheses, e.g. ``"Consignor (30A)": {"Name (R020)": ...}``, ``"GrossMass (6/5)"``.
Keys without parentheses have no WCO id (postal data such as ``ReceptacleID``). The JSON Schema
(``adapters/wco/schemas/ecommerce-v1.schema.json``) is generated from the tables below
(:func:`json_schema`); a test keeps the committed file equal to it. Violations are JSON pointers.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from google.protobuf.message import Message

from adapters.errors import UnsupportedConversion, Violation
from adapters.format import Decoded, located_format
from adapters.paths import PathMap, join
from adapters.upu._xmlmap import format_timestamp, get_path, parse_timestamp, set_path
from adapters.xml import parse_json
from gateway.api.swg.v1 import common_pb2, item_pb2

NAME = "wco.ecommerce.v1"
SCHEMA_ID = "urn:swg:wco:ecommerce:v1"

CODES: dict[str, dict[str, int]] = {
    "doctype": {"INVOICE": 1, "LICENCE": 2, "CERTIFICATE": 3, "OTHER": 4},
    "scheme": {"IPS_TN": 1, "EMSEVT": 2},
    "taxidtype": {"IOSS": 1, "VAT": 2, "EORI": 3, "OTHER": 4},
}
_CODE_NAMES = {kind: {number: code for code, number in codes.items()} for kind, codes in CODES.items()}
CATEGORIES = [v.number for v in item_pb2.ItemCategory.DESCRIPTOR.values if v.number]

# (JSON key, canonical sub-path, kind). Kinds: str, ts (RFC 3339 text), uint, bool, money ({Amount,
# Currency}), category (UPU code number), and the code lists in CODES.
ITEM: list[tuple[str, str, str]] = [
    ("LocalID", "local_id", "str"),
    ("PostingDateTime", "posted_at", "ts"),
    ("DestinationPost", "destination_post", "str"),
    ("MailCategory", "mail_category", "str"),
    ("MailClass", "mail_class", "str"),
    ("MailSubclass", "mail_subclass", "str"),
    ("OriginCountry", "origin_country", "str"),
    ("DestinationCountry", "destination_country", "str"),
    ("GrossMass (6/5)", "gross_weight_kg", "str"),
    ("HandlingClass", "handling_class", "str"),
    ("InsuredValue", "insured_value", "money"),
    ("Postage", "postage", "money"),
    ("CategoryOfItem", "category", "category"),
    ("TransportDate", "transport_date", "str"),
    ("TransportMode", "transport_mode", "str"),
    ("ReceptacleID", "receptacle_id", "str"),
    ("OriginOffice", "origin_office", "str"),
    ("DestinationOffice", "destination_office", "str"),
    ("DeclaredValue", "declared_value", "money"),
    ("DutiableValue", "dutiable_value", "money"),
    ("Dutiable", "dutiable", "bool"),
]
ADDRESS: list[tuple[str, str, str]] = [
    ("Line (239)", "line1", "str"),
    ("Line2", "line2", "str"),
    ("CityName (241)", "city", "str"),
    ("CountrySubDivision", "state", "str"),
    ("Postcode (245)", "postcode", "str"),
    ("CountryCode (242)", "country_code", "str"),
]
COMMUNICATION: list[tuple[str, str, str]] = [
    ("Telephone", "telephone", "str"),
    ("Fax", "fax", "str"),
    ("Email", "email", "str"),
]
GOODS: list[tuple[str, str, str]] = [
    ("SequenceNumeric", "index", "uint"),
    ("Quantity", "quantity", "uint"),
    ("GoodsDescription (6/8)", "description", "str"),
    ("Classification (6/14)", "hs_code", "str"),
    ("NetMass", "net_weight_kg", "str"),
    ("CustomsValue (4/18)", "value", "money"),
    ("OriginCountry", "origin_country", "str"),
]
DOCUMENT: list[tuple[str, str, str]] = [
    ("ID", "document_id", "str"),
    ("Name", "name", "str"),
    ("TypeCode", "type", "doctype"),
]
EVENT: list[tuple[str, str, str]] = [
    ("Scheme", "scheme", "scheme"),
    ("Code", "code", "str"),
    ("DateTime", "occurred_at", "ts"),
    ("Office", "office", "str"),
    ("Location", "location", "str"),
    ("ConditionCode", "condition_code", "str"),
    ("RetentionReason", "retention_reason", "str"),
    ("NonDeliveryReason", "non_delivery_reason", "str"),
    ("NonDeliveryMeasure", "non_delivery_measure", "str"),
]
# Parties: (JSON key, PostalItem field, name key, identification key).
PARTIES = [("Consignor (30A)", "sender", "Name (R020)", "Identification (R021)"),
           ("Consignee (27A)", "addressee", "Name (R014)", "Identification (R015)")]
LISTS = [("GoodsItems", "contents", GOODS), ("AdditionalDocuments", "documents", DOCUMENT),
         ("Events", "events", EVENT)]


def _ptr(parent: str, key: str | int) -> str:
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


# --------------------------------------------------------------------------- schema


def _kind_schema(kind: str) -> dict[str, Any]:
    if kind == "str":
        return {"type": "string"}
    if kind == "ts":
        return {"type": "string", "description": "RFC 3339 date-time"}
    if kind == "uint":
        return {"type": "integer", "minimum": 0, "maximum": 4294967295}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "money":
        return {"$ref": "#/$defs/Amount"}
    if kind == "category":
        return {"type": "integer", "enum": CATEGORIES,
                "description": "UPU category of item (CN 22/23): 11 sale of goods, 21 returned goods, "
                               "31 gift, 32 commercial sample, 91 documents, 991 mixed"}
    return {"type": "string", "enum": list(CODES[kind])}


def _object(spec: list[tuple[str, str, str]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {key: _kind_schema(kind) for key, _, kind in spec}
    props.update(extra or {})
    return {"type": "object", "additionalProperties": False, "properties": props}


def _party_schema(name_key: str, id_key: str, wco: str) -> dict[str, Any]:
    return _object([(name_key, "name", "str"), ("FirstName", "first_name", "str"),
                    ("LastName", "last_name", "str")], {
        id_key: {"type": "array", "items": {"$ref": "#/$defs/Identification"}},
        "Address (04A)": {"$ref": "#/$defs/Address"},
        "Communication (25A)": {"$ref": "#/$defs/Communication"},
    }) | {"description": f"WCO data model class {wco}"}


@cache
def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of wco.ecommerce.v1, built from the mapping tables."""
    extensions = {"type": "object", "additionalProperties": {"type": "string"}}
    item: dict[str, Any] = {"type": "object", "additionalProperties": False, "required": ["TransportDocument (30B)"]}
    item["properties"] = {
        "TransportDocument (30B)": {
            "type": "object", "additionalProperties": False, "required": ["ID (D024)"],
            "properties": {"ID (D024)": {"type": "string", "description": "UPU S10 item identifier"}}},
        "Carrier (18A)": {"type": "object", "additionalProperties": False,
                          "properties": {"ID": {"type": "string", "description": "origin designated operator"}}},
        **_object(ITEM)["properties"],
        "Consignor (30A)": _party_schema("Name (R020)", "Identification (R021)", "30A"),
        "Consignee (27A)": _party_schema("Name (R014)", "Identification (R015)", "27A"),
        **{key: {"type": "array", "items": {"$ref": f"#/$defs/{key}"}} for key, _, _ in LISTS},
        "Extensions": extensions,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "wco.ecommerce.v1 — WCO e-commerce dataset (swg.aed.v1)",
        "description": "Keys carry the WCO data model id in parentheses where one exists; see docs/formats.md.",
        "type": "object",
        "additionalProperties": False,
        "required": ["Items"],
        "properties": {
            "FunctionalReferenceID (D026)": {"type": "string"},
            "Items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "Extensions": extensions,
        },
        "$defs": {
            "Item": item,
            "Amount": {"type": "object", "additionalProperties": False,
                       "properties": {"Amount": {"type": "string", "description": "decimal text, e.g. 12.50"},
                                      "Currency": {"type": "string"}}},
            "Identification": {"type": "object", "additionalProperties": False,
                               "properties": {"ID": {"type": "string"}, "Type": _kind_schema("taxidtype")}},
            "Address": _object(ADDRESS) | {"description": "WCO data model class 04A"},
            "Communication": _object(COMMUNICATION) | {"description": "WCO data model class 25A"},
            "GoodsItems": _object(GOODS),
            "AdditionalDocuments": _object(DOCUMENT),
            "Events": _object(EVENT, {"Extensions": extensions}),
        },
    }


@cache
def _validator() -> Any:
    # Imported on first use: jsonschema is a tenth of a node's import time, and only WCO input needs it.
    import jsonschema

    cls = jsonschema.validators.validator_for(json_schema())
    return cls(json_schema())


# --------------------------------------------------------------------------- decode


class _Reader:
    def __init__(self) -> None:
        self.paths = PathMap("/")

    def fill(self, msg: Message, canonical: str, ptr: str, obj: Any, spec: list[tuple[str, str, str]],
             problems: list[Violation]) -> None:
        for key, sub, kind in spec:
            where = _ptr(ptr, key)
            target = join(canonical, sub)
            self.paths.add(target, where)
            if kind == "money":
                self.paths.add(join(target, "amount"), _ptr(where, "Amount"))
                self.paths.add(join(target, "currency"), _ptr(where, "Currency"))
            if not isinstance(obj, dict) or key not in obj:
                continue
            value = obj[key]
            if kind == "money":
                if isinstance(value, dict):
                    money = getattr(msg, sub)
                    money.SetInParent()
                    if isinstance(value.get("Amount"), str):
                        money.amount = value["Amount"]
                    if isinstance(value.get("Currency"), str):
                        money.currency = value["Currency"]
            elif kind == "ts":
                if isinstance(value, str):
                    try:
                        set_path(msg, sub, parse_timestamp(value))
                    except ValueError as exc:
                        problems.append(Violation(where, str(exc)))
            elif kind in CODES:
                # A list or object here is a schema violation (already reported), not a lookup key.
                if isinstance(value, str) and value in CODES[kind]:
                    set_path(msg, sub, CODES[kind][value])
            elif kind == "bool":
                if isinstance(value, bool):
                    set_path(msg, sub, value)
            elif kind in ("uint", "category"):
                if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
                    set_path(msg, sub, value)
            elif isinstance(value, str):
                set_path(msg, sub, value)

    def extensions(self, target: Any, obj: Any, canonical: str, ptr: str) -> None:
        self.paths.add(join(canonical, "extensions"), _ptr(ptr, "Extensions"))
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, str):
                    target[k] = v

    def party(self, party: common_pb2.Party, canonical: str, ptr: str, obj: dict[str, Any], name_key: str,
              id_key: str, problems: list[Violation]) -> None:
        self.fill(party, canonical, ptr, obj, [(name_key, "name", "str"), ("FirstName", "first_name", "str"),
                                               ("LastName", "last_name", "str")], problems)
        self.paths.add(join(canonical, "address"), _ptr(ptr, "Address (04A)"))
        address = obj.get("Address (04A)")
        if isinstance(address, dict):
            party.address.SetInParent()
            self.fill(party.address, join(canonical, "address"), _ptr(ptr, "Address (04A)"), address, ADDRESS,
                      problems)
        comm_ptr = _ptr(ptr, "Communication (25A)")
        self.fill(party, canonical, comm_ptr, obj.get("Communication (25A)"), COMMUNICATION, problems)
        self.paths.add(join(canonical, "tax_ids"), _ptr(ptr, id_key))
        ids = obj.get(id_key)
        for i, entry in enumerate(ids if isinstance(ids, list) else []):
            tax = party.tax_ids.add()
            eptr = _ptr(_ptr(ptr, id_key), i)
            self.fill(tax, join(canonical, "tax_ids", i), eptr, entry,
                      [("ID", "value", "str"), ("Type", "type", "taxidtype")], problems)

    def item(self, item: item_pb2.PostalItem, canonical: str, ptr: str, obj: dict[str, Any],
             problems: list[Violation]) -> None:
        self.paths.add(canonical, ptr)
        doc_ptr = _ptr(ptr, "TransportDocument (30B)")
        self.paths.add(join(canonical, "item_id"), _ptr(doc_ptr, "ID (D024)"))
        doc = obj.get("TransportDocument (30B)")
        if isinstance(doc, dict) and isinstance(doc.get("ID (D024)"), str):
            item.item_id = doc["ID (D024)"]
        carrier = obj.get("Carrier (18A)")
        self.paths.add(join(canonical, "origin_post"), _ptr(_ptr(ptr, "Carrier (18A)"), "ID"))
        if isinstance(carrier, dict) and isinstance(carrier.get("ID"), str):
            item.origin_post = carrier["ID"]
        self.fill(item, canonical, ptr, obj, ITEM, problems)
        for key, field, name_key, id_key in PARTIES:
            pptr = _ptr(ptr, key)
            self.paths.add(join(canonical, field), pptr)
            if isinstance(obj.get(key), dict):
                party = getattr(item, field)
                party.SetInParent()
                self.party(party, join(canonical, field), pptr, obj[key], name_key, id_key, problems)
        for key, field, spec in LISTS:
            lptr = _ptr(ptr, key)
            self.paths.add(join(canonical, field), lptr)
            entries = obj.get(key)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                target = getattr(item, field).add()
                eptr = _ptr(lptr, i)
                self.paths.add(join(canonical, field, i), eptr)
                self.fill(target, join(canonical, field, i), eptr, entry, spec, problems)
                if field == "events" and isinstance(entry, dict):
                    self.extensions(target.extensions, entry.get("Extensions"), join(canonical, field, i), eptr)
        self.extensions(item.extensions, obj.get("Extensions"), canonical, ptr)


def _schema_problems(doc: Any) -> list[Violation]:
    out = []
    for err in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        ptr = "".join(_ptr("", p) for p in err.absolute_path) or "/"
        out.append(Violation(ptr, err.message if len(err.message) < 300 else err.message[:297] + "..."))
    return out


def decode_located(content: bytes) -> Decoded:
    doc = parse_json(content)
    problems = _schema_problems(doc)
    reader = _Reader()
    batch = item_pb2.ItemBatch()
    reader.paths.add("items", "/Items")
    reader.paths.add("batch_reference", "/FunctionalReferenceID (D026)")
    if isinstance(doc, dict):
        if isinstance(doc.get("FunctionalReferenceID (D026)"), str):
            batch.batch_reference = doc["FunctionalReferenceID (D026)"]
        items = doc.get("Items")
        for i, obj in enumerate(items if isinstance(items, list) else []):
            item = batch.items.add()
            if isinstance(obj, dict):
                reader.item(item, join("", "items", i), _ptr("/Items", i), obj, problems)
        reader.extensions(batch.extensions, doc.get("Extensions"), "", "")
    return batch, reader.paths.locate, problems


# --------------------------------------------------------------------------- encode


def _put(out: dict[str, Any], msg: Message, spec: list[tuple[str, str, str]]) -> None:
    for key, sub, kind in spec:
        value = get_path(msg, sub)
        if kind == "money":
            if msg.HasField(sub):
                money = getattr(msg, sub)
                out[key] = {k: v for k, v in (("Amount", money.amount), ("Currency", money.currency)) if v}
        elif value is None or (kind not in ("bool", "ts") and not value):
            continue
        elif kind == "ts":
            out[key] = format_timestamp(value)
        elif kind in CODES:
            names = _CODE_NAMES[kind]
            if value not in names:
                raise UnsupportedConversion(f"{sub}: value {value} has no code in {NAME}")
            out[key] = names[value]
        else:
            out[key] = value


def _party_json(party: common_pb2.Party, name_key: str, id_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, party, [(name_key, "name", "str"), ("FirstName", "first_name", "str"),
                      ("LastName", "last_name", "str")])
    if party.tax_ids:
        ids = []
        for tax in party.tax_ids:
            entry: dict[str, Any] = {}
            _put(entry, tax, [("ID", "value", "str"), ("Type", "type", "taxidtype")])
            ids.append(entry)
        out[id_key] = ids
    if party.HasField("address"):
        address: dict[str, Any] = {}
        _put(address, party.address, ADDRESS)
        out["Address (04A)"] = address
    comm: dict[str, Any] = {}
    _put(comm, party, COMMUNICATION)
    if comm:
        out["Communication (25A)"] = comm
    return out


def encode(batch: item_pb2.ItemBatch) -> bytes:
    doc: dict[str, Any] = {}
    if batch.batch_reference:
        doc["FunctionalReferenceID (D026)"] = batch.batch_reference
    items = []
    for item in batch.items:
        obj: dict[str, Any] = {"TransportDocument (30B)": {"ID (D024)": item.item_id}}
        if item.origin_post:
            obj["Carrier (18A)"] = {"ID": item.origin_post}
        _put(obj, item, ITEM)
        for key, field, name_key, id_key in PARTIES:
            if item.HasField(field):
                obj[key] = _party_json(getattr(item, field), name_key, id_key)
        for key, field, spec in LISTS:
            members = getattr(item, field)
            if members:
                entries = []
                for member in members:
                    entry: dict[str, Any] = {}
                    _put(entry, member, spec)
                    if field == "events" and member.extensions:
                        entry["Extensions"] = dict(sorted(member.extensions.items()))
                    entries.append(entry)
                obj[key] = entries
        if item.extensions:
            obj["Extensions"] = dict(sorted(item.extensions.items()))
        items.append(obj)
    doc["Items"] = items
    if batch.extensions:
        doc["Extensions"] = dict(sorted(batch.extensions.items()))
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


FORMAT = located_format(NAME, "swg.aed.v1", decode_located, encode, media_type="application/json")
