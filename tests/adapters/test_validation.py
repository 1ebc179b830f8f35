"""Validation: every violation at once, each with a path into the input document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import registry, validation
from adapters.errors import DocumentError
from tests.adapters import samples

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "adapters/upu/examples/itmatt-example.xml").read_bytes()


def violations(fmt: str, content: bytes) -> dict[str, str]:
    with pytest.raises(DocumentError) as info:
        registry.decode(fmt, content)
    out: dict[str, str] = {}
    for v in info.value.violations:
        out[v.path] = f"{out[v.path]}; {v.reason}" if v.path in out else v.reason
    return out


def test_bad_itmatt_reports_every_violation_with_xpaths() -> None:
    bad = (EXAMPLE
           # item 1, content piece 1: no HS on a sale of goods (category 11)
           .replace(b"<itmatt:HS>610910</itmatt:HS>", b"", 1)
           # item 1, content piece 2: unknown currency
           .replace(b"<itmatt:Amount>15.00</itmatt:Amount>\n        <itmatt:CurrencyCd>EUR<",
                    b"<itmatt:Amount>15.00</itmatt:Amount>\n        <itmatt:CurrencyCd>EUX<", 1)
           # item 2: wrong check digit
           .replace(b"LX806576725TW", b"LX806576726TW"))
    got = violations("upu.itmatt.v1", bad)
    item1 = "/itmatt:Itmatt/itmatt:Item[1]"
    assert "check digit" in got["/itmatt:Itmatt/itmatt:Item[2]/itmatt:Id"]
    assert "HS code" in got[f"{item1}/itmatt:ContentPieces/itmatt:ContentPiece[1]/itmatt:HS"]
    assert "ISO 4217" in got[f"{item1}/itmatt:ContentPieces/itmatt:ContentPiece[2]/itmatt:CurrencyCd"]
    # The mixed currencies (EUR and EUX) are a consequence, reported on the ContentPieces element.
    assert set(got) <= {"/itmatt:Itmatt/itmatt:Item[2]/itmatt:Id",
                        f"{item1}/itmatt:ContentPieces/itmatt:ContentPiece[1]/itmatt:HS",
                        f"{item1}/itmatt:ContentPieces/itmatt:ContentPiece[2]/itmatt:CurrencyCd",
                        f"{item1}/itmatt:ContentPieces"}


def test_structure_and_semantics_reported_together() -> None:
    bad = (EXAMPLE.replace(b"<itmatt:Number>2</itmatt:Number>", b"<itmatt:Number>two</itmatt:Number>")
           .replace(b"<itmatt:GrossWeight>0.850</itmatt:GrossWeight>", b"<itmatt:GrossWeight>0,85</itmatt:GrossWeight>")
           .replace(b"<itmatt:LocalId>", b"<itmatt:Colour>red</itmatt:Colour><itmatt:LocalId>")
           .replace(b"<itmatt:NatureTypeCd>11</itmatt:NatureTypeCd>", b"<itmatt:NatureTypeCd>12</itmatt:NatureTypeCd>"))
    got = violations("upu.itmatt.v1", bad)
    item1 = "/itmatt:Itmatt/itmatt:Item[1]"
    assert "whole number" in got[f"{item1}/itmatt:ContentPieces/itmatt:ContentPiece[1]/itmatt:Number"]
    assert "decimal" in got[f"{item1}/itmatt:Declaration/itmatt:GrossWeight"]
    assert "unexpected element" in got[f"{item1}/itmatt:Colour"]
    assert "code list" in got[f"{item1}/itmatt:Declaration/itmatt:NatureTypeCd"]


def test_repeated_single_element_and_duplicate_items() -> None:
    bad = EXAMPLE.replace(b"<itmatt:Id>LX806576725TW</itmatt:Id>", b"<itmatt:Id>RR123456785DE</itmatt:Id>")
    bad = bad.replace(b"<itmatt:MailClassCd>L</itmatt:MailClassCd>",
                      b"<itmatt:MailClassCd>L</itmatt:MailClassCd><itmatt:MailClassCd>E</itmatt:MailClassCd>")
    got = violations("upu.itmatt.v1", bad)
    assert "appears twice" in got["/itmatt:Itmatt/itmatt:Item[2]/itmatt:Id"]
    assert "more than once" in got["/itmatt:Itmatt/itmatt:Item[1]/itmatt:MailClassCd"]


def test_violations_of_nested_and_absent_fields_point_where_their_element_belongs() -> None:
    bad = (EXAMPLE
           # item 1: insured value without its amount element
           .replace(b"<itmatt:InsuredValue>50.00</itmatt:InsuredValue>", b"")
           # item 1, sender: the address's country is not a country
           .replace(b"<itmatt:CountryCd>DE</itmatt:CountryCd>", b"<itmatt:CountryCd>XX</itmatt:CountryCd>", 1)
           # item 1, recipient: a second address line longer than any text field may be
           .replace("<itmatt:AddressLine2>Bât. B</itmatt:AddressLine2>".encode(),
                    b"<itmatt:AddressLine2>" + b"B" * 9000 + b"</itmatt:AddressLine2>")
           # item 1, first event: a date-time that is not one
           .replace(b"<itmatt:Dt>2026-11-28T10:00:00Z</itmatt:Dt>", b"<itmatt:Dt>yesterday</itmatt:Dt>"))
    got = violations("upu.itmatt.v1", bad)
    item1 = "/itmatt:Itmatt/itmatt:Item[1]"
    assert got == {
        f"{item1}/itmatt:Declaration/itmatt:InsuredValue": "amount is missing",
        f"{item1}/itmatt:Sender/itmatt:CountryCd": "'XX' is not an ISO 3166-1 alpha-2 country code",
        f"{item1}/itmatt:Recipient/itmatt:AddressLine2": "text is 9000 characters, more than the limit of 8192",
        f"{item1}/itmatt:Events/itmatt:Event[1]/itmatt:Dt": "'yesterday' is not an ISO 8601 date-time",
    }


def test_wco_violations_are_json_pointers() -> None:
    doc = json.loads((ROOT / "adapters/wco/examples/ecommerce-example.json").read_bytes())
    item = doc["Items"][0]
    item["GoodsItems"][1]["Classification (6/14)"] = "42"
    item["Consignor (30A)"]["Address (04A)"]["CountryCode (242)"] = "XX"
    item["Consignor (30A)"]["Identification (R021)"][0]["ID"] = "IM9990000017"
    item["Shoe size"] = 42
    doc["Items"][1]["TransportDocument (30B)"]["ID (D024)"] = "LX806576724TW"
    got = violations("wco.ecommerce.v1", json.dumps(doc).encode())
    # RFC 6901: the "/" inside a key is written "~1" in a JSON pointer.
    assert "6 to 10 digits" in got["/Items/0/GoodsItems/1/Classification (6~114)"]
    assert "ISO 3166" in got["/Items/0/Consignor (30A)/Address (04A)/CountryCode (242)"]
    assert "member state" in got["/Items/0/Consignor (30A)/Identification (R021)/0/ID"]
    assert "Shoe size" in got["/Items/0"]
    assert "check digit" in got["/Items/1/TransportDocument (30B)/ID (D024)"]


def test_canonical_protobuf_violations_are_field_paths() -> None:
    batch = samples.item_batch()
    batch.items[0].contents[1].hs_code = ""
    batch.items[1].contents[0].value.currency = "ZZZ"
    batch.items[1].item_id = "RB123456785XX"
    got = violations("swg.aed.v1", batch.SerializeToString())
    assert set(got) == {"items[0].contents[1].hs_code", "items[1].contents[0].value.currency", "items[1].item_id"}


def test_canonical_json_violations_are_json_pointers() -> None:
    batch = samples.item_batch()
    batch.items[0].contents[1].hs_code = "12345"
    batch.items[0].postage.currency = "EURO"
    got = violations("swg.aed.v1+json", registry.encode("swg.aed.v1+json", "swg.aed.v1", batch))
    assert set(got) == {"/items/0/contents/1/hsCode", "/items/0/postage/currency"}


def test_cusrsp_violations() -> None:
    bad = ((ROOT / "adapters/upu/examples/cusrsp-example.xml").read_bytes()
           .replace(b"<cusrsp:DecisionCd>RELEASE</cusrsp:DecisionCd>", b"")
           .replace(b"<cusrsp:TotalFeeCurrencyCd>EUR<", b"<cusrsp:TotalFeeCurrencyCd>eur<")
           .replace(b"RR123456785DE", b"RR123456786DE"))
    got = violations("upu.cusrsp.v1", bad)
    assert "outcome" in got["/cusrsp:Cusrsp/cusrsp:Item[2]/cusrsp:DecisionCd"]
    assert "ISO 4217" in got["/cusrsp:Cusrsp/cusrsp:Item[1]/cusrsp:TotalFeeCurrencyCd"]
    assert "check digit" in got["/cusrsp:Cusrsp/cusrsp:Item[1]/cusrsp:Id"]


def rules(**changes) -> list[str]:  # type: ignore[no-untyped-def]
    batch = samples.item_batch()
    item = batch.items[0]
    for key, value in changes.items():
        exec(f"item.{key} = value", {"item": item, "value": value})  # noqa: S102 - test helper on a sample
    return [f"{v.path}: {v.reason}" for v in validation.validate_item_batch(batch)]


def test_sample_is_valid() -> None:
    assert rules() == []


@pytest.mark.parametrize(("change", "value", "path", "words"), [
    ("item_id", "", "items[0].item_id", "missing"),
    ("origin_country", "EU", "items[0].origin_country", "ISO 3166"),
    ("gross_weight_kg", "0", "items[0].gross_weight_kg", "greater than zero"),
    ("gross_weight_kg", "1e3", "items[0].gross_weight_kg", "decimal"),
    ("gross_weight_kg", "-1.0", "items[0].gross_weight_kg", "decimal"),
    ("contents[0].quantity", 0, "items[0].contents[0].quantity", "positive"),
    ("contents[0].hs_code", "61091", "items[0].contents[0].hs_code", "6 to 10"),
    ("contents[0].hs_code", "61091012345", "items[0].contents[0].hs_code", "6 to 10"),
    ("contents[0].net_weight_kg", "0.000", "items[0].contents[0].net_weight_kg", "greater than zero"),
    ("contents[0].value.amount", "30.00.1", "items[0].contents[0].value.amount", "decimal"),
    ("contents[0].value.amount", "", "items[0].contents[0].value.amount", "missing"),
    ("contents[0].value.currency", "USD", "items[0].contents", "more than one currency"),
    ("declared_value.amount", "44.99", "items[0].declared_value.amount", "more than the declared value"),
    ("declared_value.currency", "USD", "items[0].declared_value.currency", "content values are in EUR"),
    ("category", 12, "items[0].category", "code list"),
    ("category", 0, "items[0].category", "missing"),
    ("contents[1].index", 1, "items[0].contents[1].index", "used twice"),
    ("sender.tax_ids[0].value", "IM27600000", "items[0].sender.tax_ids[0].value", "12 characters"),
    ("sender.tax_ids[0].value", "EU372022452", "items[0].sender.tax_ids[0].value", "non-Union"),
    ("sender.tax_ids[0].value", "IM9990000017", "items[0].sender.tax_ids[0].value", "member state"),
    ("sender.tax_ids[0].value", "DE123456789", "items[0].sender.tax_ids[0].value", "must start with IM"),
    ("sender.tax_ids[0].value", "im2760000017", "items[0].sender.tax_ids[0].value", "capitals"),
    ("addressee.address.country_code", "fr", "items[0].addressee.address.country_code", "ISO 3166"),
    ("receptacle_id", "DEFRAA", "items[0].receptacle_id", "29 characters"),
    ("events[0].code", "", "items[0].events[0].code", "missing"),
    ("documents[0].type", 9, "items[0].documents[0].type", "unknown document type"),
])
def test_rule(change: str, value: object, path: str, words: str) -> None:
    found = rules(**{change: value})
    assert any(line.startswith(path + ":") and words in line for line in found), found


def test_intermediary_ioss_number_accepted() -> None:
    assert validation.ioss_problem("IN2760000017") is None
    assert validation.ioss_problem("IM2760000017") is None


def test_hs_code_not_required_for_a_gift_but_checked_when_given() -> None:
    batch = samples.item_batch()
    assert batch.items[1].category == 31 and not batch.items[1].contents[0].hs_code
    assert validation.validate_item_batch(batch) == []


def test_empty_batch_and_duplicate_ids() -> None:
    from gateway.api.swg.v1 import item_pb2

    assert [v.path for v in validation.validate_item_batch(item_pb2.ItemBatch())] == ["items"]
    batch = samples.item_batch()
    batch.items[1].item_id = batch.items[0].item_id
    assert [v.path for v in validation.validate_item_batch(batch)] == ["items[1].item_id"]


def test_inspection_rules() -> None:
    batch = samples.inspection_batch()
    assert validation.validate_inspection_batch(batch) == []
    r = batch.results[0]
    r.outcome = 0
    r.taxes[0].amount.currency = "XYZ"
    r.taxes[0].rate = "19%"
    r.revisions[0].revised_hs_code = "42"
    r.image.sha256 = b"short"
    r.item_id = "RR123456785DE "
    paths = {v.path for v in validation.validate_inspection_batch(batch)}
    assert paths == {"results[0].outcome", "results[0].taxes[0].amount.currency", "results[0].taxes[0].rate",
                     "results[0].revisions[0].revised_hs_code", "results[0].image.sha256", "results[0].item_id"}


def test_document_types_without_rules_pass() -> None:
    from gateway.api.swg.v1 import revenue_pb2

    assert validation.validate("swg.revenue.v1", revenue_pb2.RevenueNoticeBatch()) == []


def test_wco_wrong_types_are_reported_with_pointers() -> None:
    doc = json.loads((ROOT / "adapters/wco/examples/ecommerce-example.json").read_bytes())
    doc["Items"][0]["GoodsItems"][0]["Quantity"] = "2"
    doc["Items"][0]["Dutiable"] = "yes"
    doc["Items"][1]["CategoryOfItem"] = 12
    got = violations("wco.ecommerce.v1", json.dumps(doc).encode())
    assert "integer" in got["/Items/0/GoodsItems/0/Quantity"]
    assert "boolean" in got["/Items/0/Dutiable"]
    assert "/Items/1/CategoryOfItem" in got


def test_format_decode_checks_structure_only() -> None:
    """Format.decode (used by tools that want the raw message) reports reading problems, not rules."""
    fmt = registry.get("upu.itmatt.v1")
    assert fmt.media_type == "application/xml"
    lenient = EXAMPLE.replace(b"LX806576725TW", b"LX806576726TW")
    assert fmt.decode(lenient).items[1].item_id == "LX806576726TW"
    with pytest.raises(DocumentError):
        fmt.decode(EXAMPLE.replace(b"<itmatt:Number>2<", b"<itmatt:Number>x<"))


def test_extension_keys_and_values_are_held_to_the_text_rules_in_every_format() -> None:
    batch = samples.item_batch()
    batch.items[0].extensions["marketplace.note"] = "bell\x07"
    batch.extensions["x" * 9000] = "long key"
    got = violations("swg.aed.v1", batch.SerializeToString())
    assert "'marketplace.note': value: text holds the control character U+0007" in got["items[0].extensions"]
    assert "key: text is 9000 characters" in got["extensions"]
    doc = json.loads((ROOT / "adapters/wco/examples/ecommerce-example.json").read_bytes())
    doc["Items"][0]["Extensions"] = {"note": "tab is fine\there, escape is not\u001b"}
    got = violations("wco.ecommerce.v1", json.dumps(doc).encode())
    assert "'note': value: text holds the control character U+001B" in got["/Items/0/Extensions"]
