"""``upu.cusrsp.v1``: CUSRSP-style customs responses (UPU CDS names) as XML ↔ ``InspectionResultBatch``.

Namespace ``urn:swg:upu:cusrsp:v1``; schema ``adapters/upu/schemas/cusrsp-v1.xsd``; mapping table in
docs/formats.md. ``DecisionCd`` carries the outcome from the project's code list (RELEASE, SEIZE, ...);
``SourceDecisionCd`` carries customs' own decision code when it differs (``decision_code``).
"""

from __future__ import annotations

from lxml import etree

from adapters.errors import DocumentError
from adapters.format import Decoded, located_format
from adapters.paths import join
from adapters.upu._xmlmap import Enum, Reader, Spec, Writer, root_check
from adapters.xml import parse_xml
from gateway.api.swg.v1 import inspection_pb2

NS = "urn:swg:upu:cusrsp:v1"
PREFIX = "cusrsp"
NAME = "upu.cusrsp.v1"

ENUMS = {
    "outcome": Enum({v.name.removeprefix("INSPECTION_OUTCOME_"): v.number
                     for v in inspection_pb2.InspectionOutcome.DESCRIPTOR.values if v.number}),
}

HEAD = Spec([
    ("Id", "item_id", "str"),
    ("ClearanceDt", "decided_at", "ts"),
    ("DecisionCd", "outcome", "outcome"),
    ("SourceDecisionCd", "decision_code", "str"),
    ("CustomsRef", "customs_reference", "str"),
])
FEES = Spec([
    ("Dutiable", "dutiable", "bool"),
    ("TotalFee", "total_fee.amount", "str"),
    ("TotalFeeCurrencyCd", "total_fee.currency", "str"),
])
REASON = Spec([
    ("DecisionReasonCd", "code", "str"),
    ("DecisionReasonNm", "text", "str"),
])
TAX = Spec([
    ("Type", "type", "str"),
    ("Description", "description", "str"),
    ("Amount", "amount.amount", "str"),
    ("CurrencyCd", "amount.currency", "str"),
    ("Rate", "rate", "str"),
    ("HS", "hs_code", "str"),
])
REVISION = Spec([
    ("Index", "content_index", "uint"),
    ("RevisedDescription", "revised_description", "str"),
    ("RevisedHS", "revised_hs_code", "str"),
    ("ImportRestrictions", "import_restrictions", "str"),
])
IMAGE = Spec([
    ("Uri", "uri", "str"),
    ("Sha256", "sha256", "hex"),
    ("MediaType", "media_type", "str"),
])
GROUPS = [("DecisionReasons", "DecisionReason", "reasons", REASON),
          ("Taxes", "Tax", "taxes", TAX),
          ("ContentPieces", "ContentPiece", "revisions", REVISION)]
# Element order of an Item (the XSD sequence).
ORDER = ("Id", "ClearanceDt", "DecisionCd", "SourceDecisionCd", "CustomsRef", "DecisionReasons",
         "Dutiable", "TotalFee", "TotalFeeCurrencyCd", "Taxes", "ContentPieces", "Image")


# An Item's own leaves: the head and the fee fields, read at once.
ITEM_LEAVES = Spec(HEAD + FEES)


def _read_result(r: Reader, res: inspection_pb2.InspectionResult, canonical: str, el: etree._Element,
                 xpath: str) -> None:
    kids = r.children(el, xpath, ORDER)
    r.fill(res, canonical, xpath, kids, ITEM_LEAVES)
    for group, child, field, spec in GROUPS:
        group_path = r.step(xpath, group)
        r.paths.add(join(canonical, field), group_path)
        for group_el in kids.get(group, ()):
            members = r.children(group_el, group_path, (child,), (child,))
            for i, member in enumerate(members.get(child, ())):
                member_path = r.step(group_path, child, i + 1)
                mcanon = join(canonical, field, i)
                r.paths.add(mcanon, member_path)
                r.fill(getattr(res, field).add(), mcanon, member_path,
                       r.children(member, member_path, spec.names), spec)
    image_path = r.step(xpath, "Image")
    r.paths.add(join(canonical, "image"), image_path)
    for image_el in kids.get("Image", ()):
        res.image.SetInParent()
        r.fill(res.image, join(canonical, "image"), image_path,
               r.children(image_el, image_path, IMAGE.names), IMAGE)


def decode_located(content: bytes) -> Decoded:
    root = parse_xml(content)
    r = Reader(NS, PREFIX, ENUMS)
    batch = inspection_pb2.InspectionResultBatch()
    if not root_check(r, root, "Cusrsp"):
        raise DocumentError(r.problems, summary="not an upu.cusrsp.v1 document")
    top = f"/{PREFIX}:Cusrsp"
    r.paths.root = top
    kids = r.children(root, top, ("Item",), ("Item",), attributes=("MessageRef",))
    batch.batch_reference = (root.get("MessageRef") or "").strip()
    r.paths.add("batch_reference", f"{top}/@MessageRef")
    r.paths.add("results", r.step(top, "Item"))
    for i, item_el in enumerate(kids.get("Item", ())):
        canonical = join("", "results", i)
        item_path = r.step(top, "Item", i + 1)
        r.paths.add(canonical, item_path)
        _read_result(r, batch.results.add(), canonical, item_el, item_path)
    return batch, r.paths.locate, r.problems


def encode(batch: inspection_pb2.InspectionResultBatch) -> bytes:
    w = Writer(NS, PREFIX, ENUMS)
    root = w.el(None, "Cusrsp", attrib={"MessageRef": batch.batch_reference} if batch.batch_reference else {})
    for res in batch.results:
        el = w.el(root, "Item")
        w.fill(el, res, HEAD)
        for group, child, field, spec in GROUPS:
            if field == "taxes":
                w.fill(el, res, FEES)
            members = getattr(res, field)
            if members:
                box = w.el(el, group)
                for member in members:
                    w.fill(w.el(box, child), member, spec)
        if res.HasField("image"):
            w.fill(w.el(el, "Image"), res.image, IMAGE)
    return w.serialise(root)


FORMAT = located_format(NAME, "swg.inspection.v1", decode_located, encode, media_type="application/xml")
