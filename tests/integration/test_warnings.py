"""A real UPU IPS export with one item of weight 0.000 (not weighed yet) is accepted whole through a node,
with a warning at that item's XPath, instead of being refused for one item."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.api.swg.v1 import exchange_pb2, item_pb2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upu-ips"
POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


def _export_to_germany_with_a_zero_weight() -> bytes:
    """The real export, addressed to Germany (so the example federation routes it), one weight zeroed."""
    real = (FIXTURES / "IPSExport.xml").read_bytes()
    content = real.replace(b"<DestCountryCd>MY</DestCountryCd>", b"<DestCountryCd>DE</DestCountryCd>")
    zeroed = content.replace(b"<ItemWeight>0.955</ItemWeight>", b"<ItemWeight>0.000</ItemWeight>", 1)
    assert content != real and zeroed != content
    return zeroed


def test_a_zero_weight_item_is_accepted_with_a_warning_and_reaches_customs(de_node) -> None:  # type: ignore[no-untyped-def]
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(
        message_id="ips-zero-weight", format="upu.ips.v1", content=_export_to_germany_with_a_zero_weight()),
        metadata=post.metadata, timeout=60)
    assert list(resp.recipients) == [CUSTOMS]
    assert [(w.field, w.description.split(":")[0]) for w in resp.warnings] == [
        ("/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:ItemWeight", "weight 0 (not weighed yet?)")]

    [delivery] = customs.receive(1, format="swg.aed.v1")
    items = item_pb2.ItemBatch.FromString(delivery.content).items
    assert items[0].gross_weight_kg == "0.000" and len(items) >= 1

    again = post.exchange.Submit(exchange_pb2.SubmitRequest(
        message_id="ips-zero-weight", format="upu.ips.v1", content=_export_to_germany_with_a_zero_weight()),
        metadata=post.metadata, timeout=60)
    # A retry answers what the first submit answered, warnings and per-item outcome included.
    assert again.duplicate and list(again.warnings) == list(resp.warnings) and list(again.items) == list(resp.items)
    assert [o.index for o in resp.items if o.warnings] == [0] and all(o.accepted for o in resp.items)


@pytest.mark.parametrize("export", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_every_real_ips_export_is_accepted_whole_with_its_mixed_origins(de_node, export: str) -> None:  # type: ignore[no-untyped-def]
    """Real exports mix origin countries (India, the UAE, Malawi in one dispatch): that is no reason to refuse."""
    content = re.sub(rb"<DestCountryCd>[A-Z]{2}</DestCountryCd>", b"<DestCountryCd>DE</DestCountryCd>",
                     (FIXTURES / export).read_bytes())
    post = de_node.client(POST)
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(format="upu.ips.v1", content=content),
                                metadata=post.metadata, timeout=60)
    assert list(resp.recipients) == [CUSTOMS]
