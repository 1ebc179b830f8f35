"""Each participant speaks its own format: a post's ITMATT reaches customs as WCO JSON, and customs'
decisions reach the post as CUSRSP — through one node hosting all five participants."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from adapters import registry
from gateway.api.swg.v1 import exchange_pb2, inspection_pb2
from gateway.testing.documents import aed_batch, inspection
from tests.support.db import table_count
from gateway.testing.nodes import (
    NodeRunner,
    connect,
    default_database_url,
    free_port,
    sign_directory,
    write_directory,
    write_node_config,
)

ALL = ("DE/CUSTOMS/MAIN", "DE/POST/MAIN", "DE/TAX/MAIN", "FR/CUSTOMS/MAIN", "FR/POST/MAIN")


@pytest.fixture
def one_node(federation, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    # An edited directory must be signed again, as in a real federation.
    sign_directory(federation, directory, directory.read_text().replace('node = "fr-node"', 'node = "de-node"'))
    db_url = default_database_url("de-node", tmp_path)
    config = write_node_config(federation, tmp_path, "de-node", port, directory, participants=ALL, database_url=db_url)
    runner = NodeRunner(config).start()
    clients = {p: connect(federation, "de-node", runner.address, p) for p in ALL}
    yield runner, clients, db_url
    for c in clients.values():
        c.close()
    runner.close()


def _receive_one(client, **kw) -> exchange_pb2.Delivery:  # type: ignore[no-untyped-def]
    stream = client.exchange.Receive(exchange_pb2.ReceiveRequest(**kw), metadata=client.metadata, timeout=30)
    delivery = next(stream)
    stream.cancel()
    client.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[delivery.message_id]),
                                metadata=client.metadata)
    return delivery


def test_itmatt_from_post_arrives_as_wco_json_and_decisions_return_as_cusrsp(one_node) -> None:
    _, clients, _ = one_node
    post, customs = clients["FR/POST/MAIN"], clients["DE/CUSTOMS/MAIN"]
    batch = aed_batch(3, origin="FR", destination="DE")
    itmatt = registry.encode("upu.itmatt.v1", registry.AED, batch)
    sent = post.exchange.Submit(exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=itmatt),
                                metadata=post.metadata)
    assert list(sent.recipients) == ["DE/CUSTOMS/MAIN"]

    aed = _receive_one(customs)
    assert aed.format == "wco.ecommerce.v1"  # the directory's preference for DE/CUSTOMS
    json.loads(aed.content)
    _, as_customs_sees_it = registry.decode("wco.ecommerce.v1", aed.content)
    assert [i.item_id for i in as_customs_sees_it.items] == [i.item_id for i in batch.items]

    item_ids = [i.item_id for i in batch.items]
    decisions = inspection(item_ids[:1], inspection_pb2.INSPECTION_OUTCOME_HOLD_FOR_INSPECTION)
    decisions.results.extend(inspection(item_ids[1:]).results)
    answer = customs.exchange.Submit(exchange_pb2.SubmitRequest(
        format="swg.inspection.v1", content=decisions.SerializeToString(), in_reply_to=sent.message_id),
        metadata=customs.metadata)
    assert list(answer.recipients) == ["FR/POST/MAIN"]  # found through the items' AED
    assert answer.conversation_id == sent.conversation_id

    cusrsp = _receive_one(post)
    assert cusrsp.format == "upu.cusrsp.v1"
    assert cusrsp.content.startswith(b"<?xml")
    _, back = registry.decode("upu.cusrsp.v1", cusrsp.content)
    assert [(r.item_id, r.outcome) for r in back.results] == [(r.item_id, r.outcome) for r in decisions.results]


def test_bad_itmatt_returns_every_violation_with_paths_and_stores_nothing(one_node) -> None:
    runner, clients, db_url = one_node
    post = clients["FR/POST/MAIN"]
    batch = aed_batch(3, origin="FR", destination="DE")
    batch.items[0].item_id = batch.items[0].item_id[:10] + ("0" if batch.items[0].item_id[10] != "0" else "1") + "FR"
    batch.items[1].contents[0].hs_code = ""
    batch.items[2].contents[0].value.currency = "XYZ"
    batch.items[2].declared_value.currency = "XYZ"
    xml = registry.encode("upu.itmatt.v1", registry.AED, batch)
    with pytest.raises(grpc.RpcError) as err:
        post.exchange.Submit(exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=xml), metadata=post.metadata)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    br = error_details_pb2.BadRequest()
    status.details[0].Unpack(br)
    fields = [v.field for v in br.field_violations]
    assert any(f.startswith("/itmatt:Itmatt/itmatt:Item[1]/itmatt:Id") for f in fields), fields
    assert any("itmatt:Item[2]" in f and f.endswith("itmatt:HS") for f in fields), fields
    assert any("itmatt:Item[3]" in f and "Currency" in f for f in fields), fields
    runner.stop()
    assert table_count(db_url, "messages") == 0
    assert table_count(db_url, "deliveries") == 0
