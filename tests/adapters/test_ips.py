"""IPS exports: every sample ingests; every populated element/attribute is mapped, nothing dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf.message import Message
from lxml import etree

from adapters import registry
from adapters.errors import DocumentError
from adapters.upu import ips

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "upu-ips"
SAMPLES = sorted(FIXTURES.glob("*.xml"))
MAPPING_DOC = (Path(__file__).resolve().parents[2] / "adapters/upu/IPS_MAPPING.md").read_text()


def populated_nodes(content: bytes) -> list[str]:
    """XPaths of every populated leaf element and every attribute (namespace declarations are not attributes)."""
    root = etree.fromstring(content)
    out: list[str] = []

    def walk(el: etree._Element, path: str) -> None:
        for attr, value in el.attrib.items():
            if value.strip():
                out.append(f"{path}/@{etree.QName(attr).localname}")
        kids = [c for c in el if isinstance(c.tag, str)]
        if not kids and (el.text or "").strip():
            out.append(path)
        counts: dict[str, int] = {}
        for child in kids:
            name = etree.QName(child).localname
            counts[name] = counts.get(name, 0) + 1
            step = f"ips:{name}[{counts[name]}]" if name in ("MailItem", "IPSEvent", "EDIEvent") else f"ips:{name}"
            walk(child, f"{path}/{step}")

    walk(root, "/ips:ips")
    return out


def canonical_leaves(msg: Message) -> int:
    """Set scalar fields plus extension entries, recursively; a Timestamp is one value."""
    if msg.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        return 1
    n = 0
    for field, value in msg.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            n += len(value)
        elif field.message_type is not None:
            for sub in (value if field.is_repeated else [value]):
                n += canonical_leaves(sub)
        else:
            n += len(value) if field.is_repeated else 1
    return n


def test_samples_present() -> None:
    assert len(SAMPLES) == 3


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_sample_ingests(sample: Path) -> None:
    content = sample.read_bytes()
    document_type, batch = registry.decode("upu.ips.v1", content)
    assert document_type == "swg.aed.v1"
    assert len(batch.items) == content.count(b"<MailItem ")
    assert batch.batch_reference == re.search(rb'ExportRef="(\d+)"', content).group(1).decode()
    for item in batch.items:
        assert item.item_id and item.origin_office and item.destination_office and item.receptacle_id
        assert item.events and all(e.code.startswith("TN") for e in item.events)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_every_populated_node_is_mapped(sample: Path) -> None:
    content = sample.read_bytes()
    batch, _, problems, consumed = ips.decode_traced(content)
    assert problems == []
    source = populated_nodes(content)
    # Same nodes, each mapped exactly once.
    assert sorted(consumed) == sorted(source)
    # Count in == count out: every canonical value or extension entry comes from one source node, except
    # the scheme of an IPSEvent, which is implied by the element name rather than read from one.
    implied = sum(1 for item in batch.items for e in item.events if e.scheme == 1)
    assert canonical_leaves(batch) - implied == len(source)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_extension_keys_are_documented(sample: Path) -> None:
    _, batch = registry.decode("upu.ips.v1", sample.read_bytes())
    keys = set(batch.extensions)
    for item in batch.items:
        keys |= set(item.extensions)
        for event in item.events:
            keys |= set(event.extensions)
    assert keys
    for key in keys:
        base = re.sub(r"#\d+$", "", key)
        assert f"`{base}`" in MAPPING_DOC, key


def test_ipsexport_mapping_details() -> None:
    _, batch = registry.decode("upu.ips.v1", (FIXTURES / "IPSExport.xml").read_bytes())
    item = batch.items[0]
    assert (item.item_id, item.local_id, item.receptacle_id) == ("EJ211039802AU", "RR172301665MY",
                                                                  "AUSYDBMYKULAAEM70095002000070")
    assert (item.gross_weight_kg, item.mail_class, item.mail_subclass, item.mail_category) == ("0.955", "E", "EM", "A")
    assert (item.origin_country, item.destination_country) == ("AU", "MY")
    assert item.addressee.address.country_code == "MY" and item.sender.name == "REDACTED"
    # Empty elements are absent.
    assert not item.HasField("declared_value") and not item.HasField("dutiable") and not item.HasField("postage")
    assert "ips.FromIPS.InnrbagId" not in item.extensions
    assert batch.extensions["ips@InterfaceCode"] == "IPSExpE"
    ips_events = [e for e in item.events if e.scheme == 1]
    edi = [e for e in item.events if e.scheme == 2]
    assert [e.code for e in ips_events] == ["TN030", "TN031"] and ips_events[1].retention_reason == "58"
    assert ips_events[0].occurred_at.ToJsonString() == "2017-04-15T14:10:38.953Z"
    assert len(edi) == 1 and edi[0].location == "DEFRAA" and edi[0].extensions["ips.CaptureGMTDate"]
    assert item.extensions["ips.FromEDI.ItemWeight"] == "8.480"
    assert item.extensions["ips.FromIPS.Letter.ExpressInd"] == "1"
    assert item.extensions["ips.FromIPS.Parcel.ExpressInd"] == "0"


VALUE_DOC = b"""<ips xmlns="http://upu.int/ips" ExportRef="1" InterfaceCode="X" Extra="e">
  <MailItem ItemId="RR123456785DE">
    <FromIPS>
      <Value>12.50</Value><CurrencyCd>EUR</CurrencyCd><DutiableInd>1</DutiableInd><DutiableValue>10</DutiableValue>
      <PostagePaidValue>3.20</PostagePaidValue><PostagePaidCurrencyCd>EUR</PostagePaidCurrencyCd>
      <Unknown><Nested a="1">x</Nested></Unknown>
      <IPSEvent><TNCd>TN001</TNCd><NonDeliveryReasonCd>11</NonDeliveryReasonCd><NonDeliveryMeasureCd>A</NonDeliveryMeasureCd></IPSEvent>
    </FromIPS>
    <FromEDI><EDIEvent><EDIMsg>EMSEVT</EDIMsg><TNCd>TN002</TNCd></EDIEvent><EDIEvent><EDIMsg>OTHER</EDIMsg><TNCd>TN003</TNCd></EDIEvent></FromEDI>
  </MailItem>
  <Trailer>t</Trailer>
</ips>"""


def test_values_currency_and_unknown_elements() -> None:
    batch, _, problems, consumed = ips.decode_traced(VALUE_DOC)
    assert problems == []
    item = batch.items[0]
    assert (item.declared_value.amount, item.declared_value.currency) == ("12.50", "EUR")
    assert (item.dutiable_value.amount, item.dutiable_value.currency) == ("10", "EUR")
    assert item.dutiable is True and item.postage.amount == "3.20"
    assert item.extensions["ips.FromIPS.Unknown.Nested"] == "x"
    assert item.extensions["ips.FromIPS.Unknown.Nested@a"] == "1"
    assert batch.extensions["ips.Trailer"] == "t" and batch.extensions["ips@Extra"] == "e"
    assert [(e.scheme, e.code) for e in item.events] == [(1, "TN001"), (2, "TN002"), (0, "TN003")]
    assert item.events[0].non_delivery_reason == "11" and item.events[0].non_delivery_measure == "A"
    assert item.events[2].extensions["ips.EDIMsg"] == "OTHER"
    assert sorted(consumed) == sorted(populated_nodes(VALUE_DOC))


def test_invalid_s10_in_ips_reported_at_the_attribute() -> None:
    bad = (FIXTURES / "IPSExpC_20170606_091542_45349.xml").read_bytes().replace(b"CA016868624IN", b"CA016868625IN")
    with pytest.raises(DocumentError) as info:
        registry.decode("upu.ips.v1", bad)
    assert [v.path for v in info.value.violations] == ["/ips:ips/ips:MailItem[2]/@ItemId"]


def test_bad_values_in_ips_reported_with_xpaths() -> None:
    bad = VALUE_DOC.replace(b"<DutiableInd>1<", b"<DutiableInd>maybe<").replace(
        b"<TNCd>TN001</TNCd>", b"<TNCd>TN001</TNCd><Date>yesterday</Date>").replace(b">EUR<", b">EURO<", 1)
    with pytest.raises(DocumentError) as info:
        registry.decode("upu.ips.v1", bad)
    paths = {v.path for v in info.value.violations}
    assert "/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:DutiableInd" in paths
    assert "/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:IPSEvent[1]/ips:Date" in paths
    assert "/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:CurrencyCd" in paths


def test_wrong_root_refused() -> None:
    with pytest.raises(DocumentError, match="root element"):
        registry.decode("upu.ips.v1", b'<ips xmlns="http://example.org/other"/>')


def test_a_zero_weight_in_a_real_ips_export_is_a_warning_not_a_refusal() -> None:
    """One item of 0.000 kg (not weighed yet) must not refuse the others of a real export."""
    real = (FIXTURES / "IPSExport.xml").read_bytes()
    zeroed = real.replace(b"<ItemWeight>0.955</ItemWeight>", b"<ItemWeight>0.000</ItemWeight>", 1)
    assert zeroed != real
    document_type, batch, warnings = registry.decode_with_warnings("upu.ips.v1", zeroed)
    assert document_type == "swg.aed.v1" and batch.items[0].gross_weight_kg == "0.000"
    assert [(w.path, w.reason.split(":")[0]) for w in warnings] == [
        ("/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:ItemWeight", "weight 0 (not weighed yet?)")]
    assert registry.decode_with_warnings("upu.ips.v1", real)[2] == []


def test_a_zero_weight_in_an_aed_is_still_an_error() -> None:
    from gateway.testing.documents import aed_batch

    batch = aed_batch(1)
    batch.items[0].gross_weight_kg = "0.000"
    with pytest.raises(DocumentError) as info:
        registry.decode("swg.aed.v1", batch.SerializeToString())
    assert "greater than zero" in str(info.value)
