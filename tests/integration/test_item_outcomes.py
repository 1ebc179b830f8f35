"""Per-item outcome of a submit through a real node: the good items of a batch are accepted even when others
are refused (each refused item named with every violation, at XPaths into the submitted document), unless the
request asks all_or_nothing; a retry answers the first answer, per item included."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from adapters.upu import s10
from gateway.api.swg.v1 import exchange_pb2, item_pb2
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, default_database_url, free_port, write_directory, write_node_config

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "itmatt" / "input.xml"
POST, CUSTOMS, FR_CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "FR/CUSTOMS/MAIN"
BAD = {3: "/itmatt:Itmatt/itmatt:Item[4]", 7: "/itmatt:Itmatt/itmatt:Item[8]"}


def _s10(n: int) -> str:
    serial = f"{n:08d}"
    return f"RR{serial}{s10.check_digit(serial)}DE"


def _itmatt(destinations: list[str]) -> tuple[bytes, list[bytes]]:
    """The real ITMATT sample's head and its item once per destination (own S10 ids)."""
    head, rest = FIXTURE.read_bytes().split(b"<i:Item>", 1)
    item = b"<i:Item>" + rest.split(b"</i:Item>", 1)[0] + b"</i:Item>"
    assert b"RR123456785DE" in item and b"<i:DestCountryCd>FR<" in item
    return head, [item.replace(b"RR123456785DE", _s10(n + 1).encode()).replace(
        b"<i:DestCountryCd>FR<", b"<i:DestCountryCd>" + cc.encode() + b"<") for n, cc in enumerate(destinations)]


def _batch_of_ten_with_two_bad_items() -> bytes:
    """The real ITMATT sample's item ten times over (own S10 ids, to Germany); items 4 and 8 are bad."""
    head, ten = _itmatt(["DE"] * 10)
    items = []
    for n, x in enumerate(ten):
        if n == 3:
            x = x.replace(b"<i:GrossWeight>0.850<", b"<i:GrossWeight>heavy<")
        if n == 7:
            x = x.replace(b"<i:OrigCountryCd>DE<", b"<i:OrigCountryCd>XX<").replace(
                b"<i:InsuredValueCurrencyCd>EUR<", b"<i:InsuredValueCurrencyCd>EURO<")
        items.append(x)
    return head + b"\n".join(items) + b"</i:Itmatt>"


def _submit(post, message_id: str, *, all_or_nothing: bool = False) -> exchange_pb2.SubmitResponse:  # type: ignore[no-untyped-def]
    return post.exchange.Submit(exchange_pb2.SubmitRequest(  # type: ignore[no-any-return]
        message_id=message_id, format="upu.itmatt.v1", content=_batch_of_ten_with_two_bad_items(),
        all_or_nothing=all_or_nothing), metadata=post.metadata, timeout=60)


def test_a_batch_of_ten_with_two_bad_items_accepts_eight_and_names_the_two(de_node) -> None:  # type: ignore[no-untyped-def]
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    resp = _submit(post, "batch-of-ten")
    assert resp.message_id == "batch-of-ten" and list(resp.recipients) == [CUSTOMS]
    assert [o.index for o in resp.items] == list(range(10))
    assert [o.item_id for o in resp.items] == [_s10(n + 1) for n in range(10)]
    accepted = [o for o in resp.items if o.accepted]
    assert [o.index for o in accepted] == [0, 1, 2, 4, 5, 6, 8, 9]
    assert all(o.message_id == "batch-of-ten" and not o.violations for o in accepted)
    refused = {o.index: o for o in resp.items if not o.accepted}
    assert {n: o.path for n, o in refused.items()} == BAD
    assert [v.field for v in refused[3].violations] == [BAD[3] + "/itmatt:Declaration/itmatt:GrossWeight"]
    assert sorted(v.field for v in refused[7].violations) == sorted([
        BAD[7] + "/itmatt:OrigCountryCd", BAD[7] + "/itmatt:Declaration/itmatt:InsuredValueCurrencyCd"])
    assert "'XX' is not an ISO 3166-1" in " ".join(v.description for v in refused[7].violations)
    assert all(not o.message_id for o in refused.values())

    # Customs receives the eight good items, and only them.
    [delivery] = customs.receive(1, format="swg.aed.v1")
    assert delivery.message_id == "batch-of-ten"
    got = [i.item_id for i in item_pb2.ItemBatch.FromString(delivery.content).items]
    assert got == [o.item_id for o in accepted]

    # A retry answers the first answer, per item included, and stores nothing new.
    again = _submit(post, "batch-of-ten")
    assert again.duplicate
    assert list(again.items) == list(resp.items)
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="batch-of-ten"),
                                     metadata=post.metadata, timeout=30)
    assert [r.recipient for r in status.recipients] == [CUSTOMS]


def test_all_or_nothing_refuses_the_whole_batch_with_every_violation(de_node) -> None:  # type: ignore[no-untyped-def]
    post = de_node.client(POST)
    with pytest.raises(grpc.RpcError) as err:
        _submit(post, "batch-all-or-nothing", all_or_nothing=True)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "2 of 10 items are invalid" in err.value.details()
    fields = sorted(v.field for v in _violations(err.value))
    assert fields == sorted([BAD[3] + "/itmatt:Declaration/itmatt:GrossWeight", BAD[7] + "/itmatt:OrigCountryCd",
                             BAD[7] + "/itmatt:Declaration/itmatt:InsuredValueCurrencyCd"])
    # Nothing was stored: the same id is free for the corrected batch.
    with pytest.raises(grpc.RpcError) as missing:
        post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="batch-all-or-nothing"),
                                metadata=post.metadata, timeout=30)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_submit_stream_answers_per_item_too(de_node) -> None:  # type: ignore[no-untyped-def]
    post = de_node.client(POST)
    requests = [exchange_pb2.SubmitRequest(message_id="stream-batch", format="upu.itmatt.v1",
                                           content=_batch_of_ten_with_two_bad_items())]
    [resp] = list(post.exchange.SubmitStream(iter(requests), metadata=post.metadata, timeout=60))
    assert not resp.HasField("error")
    assert [o.index for o in resp.items if not o.accepted] == [3, 7]
    assert sum(o.accepted for o in resp.items) == 8


def _violations(err: grpc.RpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    st = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert st is not None
    bad = error_details_pb2.BadRequest()
    [detail] = st.details
    assert detail.Unpack(bad)
    return list(bad.field_violations)


def test_a_document_for_two_destinations_is_split_into_one_message_per_route(nodes) -> None:  # type: ignore[no-untyped-def]
    """Items for Germany and France in one ITMATT from the German post: DE customs (same node) gets its
    two, FR customs (the other node, relayed) its one, each in a message ``<id>.to-<CC>``."""
    post = nodes.client("de-node", POST)
    head, items = _itmatt(["DE", "FR", "DE"])
    content = head + b"\n".join(items) + b"</i:Itmatt>"
    req = exchange_pb2.SubmitRequest(message_id="two-routes", format="upu.itmatt.v1", content=content)
    resp = post.exchange.Submit(req, metadata=post.metadata, timeout=60)
    assert resp.message_id == "two-routes" and sorted(resp.recipients) == [CUSTOMS, FR_CUSTOMS]
    assert [(o.item_id, o.message_id, list(o.recipients)) for o in resp.items] == [
        (_s10(1), "two-routes.to-DE", [CUSTOMS]), (_s10(2), "two-routes.to-FR", [FR_CUSTOMS]),
        (_s10(3), "two-routes.to-DE", [CUSTOMS])]

    [de] = nodes.client("de-node", CUSTOMS).receive(1, format="swg.aed.v1")
    assert de.message_id == "two-routes.to-DE" and de.sender == POST
    assert [i.item_id for i in item_pb2.ItemBatch.FromString(de.content).items] == [_s10(1), _s10(3)]
    [fr] = nodes.client("fr-node", FR_CUSTOMS).receive(1, 60, format="swg.aed.v1")
    assert fr.message_id == "two-routes.to-FR"
    assert [i.item_id for i in item_pb2.ItemBatch.FromString(fr.content).items] == [_s10(2)]

    # GetStatus on the submitted id shows both routes; a retry answers the same, sending nothing again.
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="two-routes"),
                                     metadata=post.metadata, timeout=30)
    assert sorted(r.recipient for r in status.recipients) == [CUSTOMS, FR_CUSTOMS]
    again = post.exchange.Submit(req, metadata=post.metadata, timeout=60)
    assert again.duplicate and list(again.items) == list(resp.items)


IPS = FIXTURE.parents[1] / "upu-ips" / "IPSExpC_20170606_091542_45349.xml"


def _ips_to_germany_with_a_zero_weight() -> bytes:
    """A real 19-item IPS export, addressed to Germany, its first item's weight 0.000 (not weighed yet)."""
    content = re.sub(rb"<DestCountryCd>[A-Z]{2}</DestCountryCd>", b"<DestCountryCd>DE</DestCountryCd>", IPS.read_bytes())
    zeroed = content.replace(b"<ItemWeight>3.460</ItemWeight>", b"<ItemWeight>0.000</ItemWeight>", 1)
    assert zeroed != content
    return zeroed


def test_zero_weight_is_a_warning_by_default_and_flags_the_item_for_customs(de_node) -> None:  # type: ignore[no-untyped-def]
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(format="upu.ips.v1", content=_ips_to_germany_with_a_zero_weight()),
                                metadata=post.metadata, timeout=60)
    assert len(resp.items) == 19 and all(o.accepted for o in resp.items)
    [flagged] = [o for o in resp.items if o.warnings]
    assert flagged.index == 0 and "[weight-zero: warning]" in flagged.warnings[0].description
    [delivery] = customs.receive(1, format="swg.aed.v1")
    items = item_pb2.ItemBatch.FromString(delivery.content).items
    assert len(items) == 19
    # The customs sees the data-quality flag on that item, and on no other.
    assert [dict(i.extensions).get("swg:data-quality") for i in items] == ["weight-zero"] + [None] * 18


def test_a_country_that_makes_zero_weight_an_error_refuses_that_item(database_backend: str, federation: Federation,
                                                                     tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()},
                                extra='\n[rules.DE]\nweight-zero = "error"\n')
    config = write_node_config(federation, tmp_path, "de-node", port, directory,
                               database_url=default_database_url("de-node", tmp_path))
    runner = NodeRunner(config).start()
    post = connect(federation, "de-node", runner.address, POST)
    try:
        resp = post.exchange.Submit(exchange_pb2.SubmitRequest(
            format="upu.ips.v1", content=_ips_to_germany_with_a_zero_weight()), metadata=post.metadata, timeout=60)
        assert [o.index for o in resp.items if not o.accepted] == [0]
        [v] = resp.items[0].violations
        assert v.field == "/ips:ips/ips:MailItem[1]/ips:FromIPS/ips:ItemWeight"
        assert "must be greater than zero" in v.description
        assert sum(o.accepted for o in resp.items) == 18 and not resp.warnings
    finally:
        post.close()
        runner.close()


def test_a_retry_of_a_clean_batch_answers_every_item_accepted_again(de_node) -> None:  # type: ignore[no-untyped-def]
    post = de_node.client(POST)
    head, items = _itmatt(["DE", "DE", "DE"])
    req = exchange_pb2.SubmitRequest(message_id="clean-batch", format="upu.itmatt.v1",
                                     content=head + b"\n".join(items) + b"</i:Itmatt>")
    first = post.exchange.Submit(req, metadata=post.metadata, timeout=60)
    assert [(o.item_id, o.accepted, o.message_id, list(o.recipients), o.path) for o in first.items] == [
        (_s10(n + 1), True, "clean-batch", [CUSTOMS], f"/itmatt:Itmatt/itmatt:Item[{n + 1}]") for n in range(3)]
    again = post.exchange.Submit(req, metadata=post.metadata, timeout=60)
    assert again.duplicate and list(again.items) == list(first.items)
