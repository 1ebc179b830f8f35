"""``upu.itmatt.v1``: ITMATT-style item data (UPU CDS data element names) as XML ↔ ``ItemBatch``.

Namespace ``urn:swg:upu:itmatt:v1``; schema ``adapters/upu/schemas/itmatt-v1.xsd``; mapping table in
docs/formats.md. Every PostalItem field has an element, so decode(encode(x)) == x.
"""

from __future__ import annotations

from lxml import etree

from adapters.errors import DocumentError
from adapters.paths import join
from adapters.format import Decoded, located_format
from adapters.upu._xmlmap import Enum, Reader, Spec, Writer, root_check
from adapters.xml import parse_xml
from gateway.api.swg.v1 import common_pb2, item_pb2

NS = "urn:swg:upu:itmatt:v1"
PREFIX = "itmatt"
NAME = "upu.itmatt.v1"

ENUMS = {
    "category": Enum({str(v.number): v.number for v in item_pb2.ItemCategory.DESCRIPTOR.values if v.number}),
    "doctype": Enum({"invoice": 1, "licence": 2, "certificate": 3, "other": 4}),
    "scheme": Enum({"IPS_TN": 1, "EMSEVT": 2}),
    "taxidtype": Enum({"IOSS": 1, "VAT": 2, "EORI": 3, "OTHER": 4}),
}

ITEM_HEAD = Spec([
    ("Id", "item_id", "str"),
    ("LocalId", "local_id", "str"),
    ("PostingDt", "posted_at", "ts"),
    ("OrigPostOrgCd", "origin_post", "str"),
    ("DestPostOrgCd", "destination_post", "str"),
    ("MailCategoryCd", "mail_category", "str"),
    ("MailClassCd", "mail_class", "str"),
    ("MailSubclassCd", "mail_subclass", "str"),
    ("OrigCountryCd", "origin_country", "str"),
    ("DestCountryCd", "destination_country", "str"),
])
DECLARATION = Spec([
    ("GrossWeight", "gross_weight_kg", "str"),
    ("HandlingClassCd", "handling_class", "str"),
    ("InsuredValue", "insured_value.amount", "str"),
    ("InsuredValueCurrencyCd", "insured_value.currency", "str"),
    ("NatureTypeCd", "category", "category"),
    ("Postage", "postage.amount", "str"),
    ("PostageCurrencyCd", "postage.currency", "str"),
    ("TransportDate", "transport_date", "str"),
    ("TransportMode", "transport_mode", "str"),
    ("DeclaredValue", "declared_value.amount", "str"),
    ("DeclaredValueCurrencyCd", "declared_value.currency", "str"),
    ("DutiableInd", "dutiable", "bool"),
    ("DutiableValue", "dutiable_value.amount", "str"),
    ("DutiableValueCurrencyCd", "dutiable_value.currency", "str"),
])
PARTY = Spec([
    ("Name", "name", "str"),
    ("FirstName", "first_name", "str"),
    ("LastName", "last_name", "str"),
    ("AddressLine1", "address.line1", "str"),
    ("AddressLine2", "address.line2", "str"),
    ("City", "address.city", "str"),
    ("State", "address.state", "str"),
    ("ZIP", "address.postcode", "str"),
    ("CountryCd", "address.country_code", "str"),
    ("Telephone", "telephone", "str"),
    ("Fax", "fax", "str"),
    ("Email", "email", "str"),
])
DOCUMENT = Spec([
    ("DocumentId", "document_id", "str"),
    ("DocumentName", "name", "str"),
    ("DocumentType", "type", "doctype"),
])
CONTENT = Spec([
    ("Index", "index", "uint"),
    ("Number", "quantity", "uint"),
    ("Description", "description", "str"),
    ("HS", "hs_code", "str"),
    ("NetWeight", "net_weight_kg", "str"),
    ("Amount", "value.amount", "str"),
    ("CurrencyCd", "value.currency", "str"),
    ("OrigCountryCd", "origin_country", "str"),
])
DISPATCH = Spec([
    ("RecptclId", "receptacle_id", "str"),
    ("OrigOfficeCd", "origin_office", "str"),
    ("DestOfficeCd", "destination_office", "str"),
])
EVENT = Spec([
    ("Scheme", "scheme", "scheme"),
    ("Code", "code", "str"),
    ("Dt", "occurred_at", "ts"),
    ("OfficeCd", "office", "str"),
    ("Location", "location", "str"),
    ("ConditionCd", "condition_code", "str"),
    ("RetentionReasonCd", "retention_reason", "str"),
    ("NonDeliveryReasonCd", "non_delivery_reason", "str"),
    ("NonDeliveryMeasureCd", "non_delivery_measure", "str"),
])
ITEM_GROUPS = ("Declaration", "Sender", "Recipient", "Documents", "ContentPieces", "Dispatch", "Events",
               "Extensions")


_PARTY_CHILDREN = PARTY.names + ("IdRef",)
_ITEM_CHILDREN = ITEM_HEAD.names + ITEM_GROUPS
_MEMBERS = (("Documents", "Document", "documents", DOCUMENT, DOCUMENT.names),
            ("ContentPieces", "ContentPiece", "contents", CONTENT, CONTENT.names),
            ("Events", "Event", "events", EVENT, EVENT.names + ("Extensions",)))


def _read_party(r: Reader, party: common_pb2.Party, canonical: str, el: etree._Element, xpath: str) -> None:
    kids = r.children(el, xpath, _PARTY_CHILDREN, ("IdRef",))
    r.fill(party, canonical, xpath, kids, PARTY)
    r.paths.add(join(canonical, "tax_ids"), r.step(xpath, "IdRef"))
    for i, ref in enumerate(kids.get("IdRef", ())):
        ref_path = r.step(xpath, "IdRef", i + 1)
        tax = party.tax_ids.add()
        tpath = join(canonical, "tax_ids", i)
        r.paths.add(tpath, ref_path)
        r.paths.add(join(tpath, "value"), ref_path)
        r.paths.add(join(tpath, "type"), f"{ref_path}/@Type")
        if len(ref):
            r.problem(ref_path, "IdRef must not contain elements")
        for attr in ref.attrib:
            if attr != "Type":
                r.problem(f"{ref_path}/@{attr}", f"unexpected attribute {attr}")
        tax.value = (ref.text or "").strip()
        kind = ref.get("Type")
        if kind:
            value = r.convert(kind, "taxidtype", f"{ref_path}/@Type")
            if value is not None:
                tax.type = value


def _read_item(r: Reader, item: item_pb2.PostalItem, canonical: str, el: etree._Element, xpath: str) -> None:
    kids = r.children(el, xpath, _ITEM_CHILDREN)
    r.fill(item, canonical, xpath, kids, ITEM_HEAD)
    decl_path = r.step(xpath, "Declaration")
    decl = kids.get("Declaration")
    r.fill(item, canonical, decl_path, r.children(decl[0], decl_path, DECLARATION.names) if decl else {},
           DECLARATION)
    for group, field in (("Sender", "sender"), ("Recipient", "addressee")):
        party_path = r.step(xpath, group)
        r.paths.add(join(canonical, field), party_path)
        for party_el in kids.get(group, ()):
            party = getattr(item, field)
            party.SetInParent()
            _read_party(r, party, join(canonical, field), party_el, party_path)
    for group, child, field, spec, allowed in _MEMBERS:
        group_path = r.step(xpath, group)
        r.paths.add(join(canonical, field), group_path)
        for group_el in kids.get(group, ()):
            members = r.children(group_el, group_path, (child,), (child,))
            for i, member in enumerate(members.get(child, ())):
                member_path = r.step(group_path, child, i + 1)
                target = getattr(item, field).add()
                mcanon = join(canonical, field, i)
                r.paths.add(mcanon, member_path)
                mkids = r.children(member, member_path, allowed)
                r.fill(target, mcanon, member_path, mkids, spec)
                if field == "events":
                    r.extensions(target.extensions, mcanon, member_path, mkids)
    disp_path = r.step(xpath, "Dispatch")
    disp = kids.get("Dispatch")
    r.fill(item, canonical, disp_path, r.children(disp[0], disp_path, DISPATCH.names) if disp else {},
           DISPATCH)
    r.extensions(item.extensions, canonical, xpath, kids)


def decode_located(content: bytes) -> Decoded:
    root = parse_xml(content)
    r = Reader(NS, PREFIX, ENUMS)
    batch = item_pb2.ItemBatch()
    if not root_check(r, root, "Itmatt"):
        raise DocumentError(r.problems, summary="not an upu.itmatt.v1 document")
    top = f"/{PREFIX}:Itmatt"
    r.paths.root = top
    kids = r.children(root, top, ("Item", "Extensions"), ("Item",), attributes=("MessageRef",))
    batch.batch_reference = (root.get("MessageRef") or "").strip()
    r.paths.add("batch_reference", f"{top}/@MessageRef")
    r.paths.add("items", r.step(top, "Item"))
    for i, item_el in enumerate(kids.get("Item", ())):
        canonical = join("", "items", i)
        item_path = r.step(top, "Item", i + 1)
        r.paths.add(canonical, item_path)
        _read_item(r, batch.items.add(), canonical, item_el, item_path)
    r.extensions(batch.extensions, "", top, kids)
    return batch, r.paths.locate, r.problems


def _write_party(w: Writer, parent: etree._Element, name: str, party: common_pb2.Party) -> None:
    el = w.el(parent, name)
    w.fill(el, party, PARTY)
    for tax in party.tax_ids:
        attrib = {"Type": w.text_of(tax.type, "taxidtype")} if tax.type else {}
        w.el(el, "IdRef", tax.value, attrib)


def encode(batch: item_pb2.ItemBatch) -> bytes:
    w = Writer(NS, PREFIX, ENUMS)
    root = w.el(None, "Itmatt", attrib={"MessageRef": batch.batch_reference} if batch.batch_reference else {})
    for item in batch.items:
        el = w.el(root, "Item")
        w.fill(el, item, ITEM_HEAD)
        if w.has_any(item, DECLARATION):
            w.fill(w.el(el, "Declaration"), item, DECLARATION)
        if item.HasField("sender"):
            _write_party(w, el, "Sender", item.sender)
        if item.HasField("addressee"):
            _write_party(w, el, "Recipient", item.addressee)
        for group, child, field, spec in (("Documents", "Document", "documents", DOCUMENT),
                                          ("ContentPieces", "ContentPiece", "contents", CONTENT)):
            members = getattr(item, field)
            if members:
                box = w.el(el, group)
                for member in members:
                    w.fill(w.el(box, child), member, spec)
        if w.has_any(item, DISPATCH):
            w.fill(w.el(el, "Dispatch"), item, DISPATCH)
        if item.events:
            box = w.el(el, "Events")
            for event in item.events:
                ev = w.el(box, "Event")
                w.fill(ev, event, EVENT)
                w.extensions(ev, event.extensions)
        w.extensions(el, item.extensions)
    w.extensions(root, batch.extensions)
    return w.serialise(root)


FORMAT = located_format(NAME, "swg.aed.v1", decode_located, encode, media_type="application/xml")
