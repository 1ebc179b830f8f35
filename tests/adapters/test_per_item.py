"""registry.decode_per_item: every violation belongs to the item it is in (paths into the submitted document),
or to the document; warnings and their rule ids per item."""

from __future__ import annotations

from pathlib import Path

from adapters import registry
from gateway.testing.documents import aed_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_decoder_problem_belongs_to_its_item() -> None:
    """The IPS decoder's own problem (a date it cannot read) is placed in its MailItem, not the document."""
    content = (FIXTURES / "upu-ips" / "IPSExpC_20170606_091542_45349.xml").read_bytes()
    bad = content.replace(b"<Date>2017-06-06T01:05:52.640<", b"<Date>yesterday<", 1)
    assert bad != content
    found = registry.decode_per_item("upu.ips.v1", bad)
    assert not found.document_problems and len(found.items) == 19
    [refused] = found.refused
    assert (refused.index, refused.path) == (1, "/ips:ips/ips:MailItem[2]")
    assert [v.path for v in refused.problems] == ["/ips:ips/ips:MailItem[2]/ips:FromIPS/ips:IPSEvent[1]/ips:Date"]


def test_json_pointers_and_field_paths_per_item() -> None:
    batch = aed_batch(3)
    batch.items[2].destination_country = "ZZ"
    batch.items[0].gross_weight_kg = "0"
    for fmt, item_path, field in (("swg.aed.v1", "items[2]", "items[2].destination_country"),
                                  ("swg.aed.v1+json", "/items/2", "/items/2/destinationCountry")):
        # Zero weight is an error in the aed profile by default, a warning where the destination says so.
        found = registry.decode_per_item(fmt, registry.encode(fmt, registry.AED, batch))
        assert [i.index for i in found.refused] == [0, 2] and not found.items[0].flags
        relaxed = registry.decode_per_item(fmt, registry.encode(fmt, registry.AED, batch),
                                           classes={"DE": {"weight-zero": "warning"}})
        assert [(i.index, i.path) for i in relaxed.refused] == [(2, item_path)]
        assert [v.path for v in relaxed.refused[0].problems] == [field]
        assert relaxed.items[0].flags == ("weight-zero",) and not relaxed.items[0].problems


def test_a_problem_of_the_document_itself_is_no_items() -> None:
    found = registry.decode_per_item("swg.aed.v1", b"")
    assert [v.path for v in found.document_problems] == ["items"] and found.items == ()
