"""Golden tests: input file → canonical → output, each compared with a committed golden file.

Regenerate after an intended change with ``SWG_UPDATE_GOLDEN=1 pytest tests/adapters/test_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from adapters import registry
from tests.adapters import samples

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN = FIXTURES / "golden"
ROOT = Path(__file__).resolve().parents[2]

# (input file, input format, output format, golden file)
CASES = [
    ("itmatt/input.xml", "upu.itmatt.v1", "swg.aed.v1+json", "itmatt.canonical.json"),
    ("itmatt/input.xml", "upu.itmatt.v1", "upu.itmatt.v1", "itmatt.out.xml"),
    ("itmatt/input.xml", "upu.itmatt.v1", "wco.ecommerce.v1", "itmatt-to-wco.json"),
    ("cusrsp/input.xml", "upu.cusrsp.v1", "swg.inspection.v1+json", "cusrsp.canonical.json"),
    ("cusrsp/input.xml", "upu.cusrsp.v1", "upu.cusrsp.v1", "cusrsp.out.xml"),
    ("wco/input.json", "wco.ecommerce.v1", "swg.aed.v1+json", "wco.canonical.json"),
    ("wco/input.json", "wco.ecommerce.v1", "wco.ecommerce.v1", "wco.out.json"),
    ("wco/input.json", "wco.ecommerce.v1", "upu.itmatt.v1", "wco-to-itmatt.xml"),
    ("upu-ips/IPSExport.xml", "upu.ips.v1", "swg.aed.v1+json", "ips-IPSExport.canonical.json"),
    ("upu-ips/IPSExpC_20170606_091542_45349.xml", "upu.ips.v1", "swg.aed.v1+json", "ips-IPSExpC.canonical.json"),
    ("upu-ips/IPSExpU_20170607_120033_740567.xml", "upu.ips.v1", "swg.aed.v1+json", "ips-IPSExpU.canonical.json"),
    ("upu-ips/IPSExport.xml", "upu.ips.v1", "upu.itmatt.v1", "ips-IPSExport-to-itmatt.xml"),
]


@pytest.mark.parametrize(("source", "in_fmt", "out_fmt", "golden"), CASES, ids=[c[3] for c in CASES])
def test_golden(source: str, in_fmt: str, out_fmt: str, golden: str) -> None:
    document_type, msg = registry.decode(in_fmt, (FIXTURES / source).read_bytes())
    out = registry.encode(out_fmt, document_type, msg)
    path = GOLDEN / golden
    if os.environ.get("SWG_UPDATE_GOLDEN"):
        path.write_bytes(out)
    assert out == path.read_bytes()
    # The output is itself a valid document of its format that decodes to the same canonical message.
    assert registry.decode(out_fmt, out) == (document_type, msg)


def test_itmatt_input_differs_from_output_only_in_form() -> None:
    """The golden input uses another prefix, a comment, padding and an empty element: all normalised away."""
    _, from_input = registry.decode("upu.itmatt.v1", (FIXTURES / "itmatt/input.xml").read_bytes())
    assert from_input == samples.item_batch()
    _, from_cusrsp = registry.decode("upu.cusrsp.v1", (FIXTURES / "cusrsp/input.xml").read_bytes())
    assert from_cusrsp == samples.inspection_batch()
    _, from_wco = registry.decode("wco.ecommerce.v1", (FIXTURES / "wco/input.json").read_bytes())
    assert from_wco == samples.item_batch()


@pytest.mark.parametrize(("schema", "documents"), [
    ("adapters/upu/schemas/itmatt-v1.xsd", ["adapters/upu/examples/itmatt-example.xml",
                                            "tests/fixtures/itmatt/input.xml",
                                            "tests/fixtures/golden/itmatt.out.xml",
                                            "tests/fixtures/golden/wco-to-itmatt.xml",
                                            "tests/fixtures/golden/ips-IPSExport-to-itmatt.xml"]),
    ("adapters/upu/schemas/cusrsp-v1.xsd", ["adapters/upu/examples/cusrsp-example.xml",
                                            "tests/fixtures/cusrsp/input.xml",
                                            "tests/fixtures/golden/cusrsp.out.xml"]),
])
def test_xml_documents_conform_to_their_xsd(schema: str, documents: list[str]) -> None:
    xsd = etree.XMLSchema(etree.parse(str(ROOT / schema)))
    for doc in documents:
        tree = etree.parse(str(ROOT / doc))
        assert xsd.validate(tree), (doc, [str(e) for e in xsd.error_log])


def test_xsd_rejects_an_unknown_element() -> None:
    xsd = etree.XMLSchema(etree.parse(str(ROOT / "adapters/upu/schemas/itmatt-v1.xsd")))
    bad = (ROOT / "adapters/upu/examples/itmatt-example.xml").read_bytes().replace(
        b"<itmatt:HS>610910</itmatt:HS>", b"<itmatt:Tariff>610910</itmatt:Tariff>")
    assert not xsd.validate(etree.fromstring(bad).getroottree())


def test_examples_decode_to_the_samples() -> None:
    assert registry.decode("upu.itmatt.v1", (ROOT / "adapters/upu/examples/itmatt-example.xml").read_bytes())[1] \
        == samples.item_batch()
    assert registry.decode("upu.cusrsp.v1", (ROOT / "adapters/upu/examples/cusrsp-example.xml").read_bytes())[1] \
        == samples.inspection_batch()
    assert registry.decode("wco.ecommerce.v1",
                           (ROOT / "adapters/wco/examples/ecommerce-example.json").read_bytes())[1] \
        == samples.item_batch()


def test_committed_json_schema_is_the_generated_one() -> None:
    import json

    from adapters.wco import ecommerce

    committed = json.loads((ROOT / "adapters/wco/schemas/ecommerce-v1.schema.json").read_text())
    assert committed == ecommerce.json_schema()


def test_wco_documents_conform_to_the_committed_schema() -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "adapters/wco/schemas/ecommerce-v1.schema.json").read_text())
    for doc in ("adapters/wco/examples/ecommerce-example.json", "tests/fixtures/wco/input.json",
                "tests/fixtures/golden/wco.out.json", "tests/fixtures/golden/itmatt-to-wco.json"):
        jsonschema.validate(json.loads((ROOT / doc).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"Items": [{"TransportDocument (30B)": {"ID (D024)": "x"}, "HS": "1"}]}, schema)


def test_wco_keys_carry_their_wco_ids() -> None:
    doc = (ROOT / "adapters/wco/examples/ecommerce-example.json").read_text()
    for key in ("Consignor (30A)", "Name (R020)", "Identification (R021)", "Consignee (27A)", "Name (R014)",
                "Address (04A)", "Line (239)", "CityName (241)", "CountryCode (242)", "Postcode (245)",
                "Communication (25A)", "Carrier (18A)", "TransportDocument (30B)", "ID (D024)",
                "GoodsDescription (6/8)", "Classification (6/14)", "CustomsValue (4/18)", "GrossMass (6/5)"):
        assert f'"{key}"' in doc, key


def test_comment_inside_a_value_is_skipped() -> None:
    doc = (ROOT / "adapters/upu/examples/itmatt-example.xml").read_bytes().replace(
        b"<itmatt:HS>610910</itmatt:HS>", b"<itmatt:HS>6109<!-- tariff -->10</itmatt:HS>")
    assert registry.decode("upu.itmatt.v1", doc)[1] == samples.item_batch()
