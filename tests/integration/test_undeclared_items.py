"""A customs decision on an item nobody declared: refused naming the item, unless the customs names the post."""

from __future__ import annotations

import grpc
import pytest

from gateway.api.swg.v1 import exchange_pb2, inspection_pb2
from gateway.testing.documents import inspection, s10

POST, CUSTOMS, TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"


def test_a_decision_on_an_undeclared_item_is_refused_unless_its_post_is_named(de_node) -> None:  # type: ignore[no-untyped-def]
    customs, post = de_node.client(CUSTOMS), de_node.client(POST)
    item = s10(55_000_001, country="FR")
    # Duties assessed: without the check it went to the tax authority alone, and no post ever heard of it.
    doc = inspection([item], outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED)
    with pytest.raises(grpc.RpcError) as info:
        customs.exchange.Submit(exchange_pb2.SubmitRequest(format="swg.inspection.v1", content=doc.SerializeToString()),
                                metadata=customs.metadata, timeout=30)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details().startswith(f"results[0].item_id: {item} was not declared to {CUSTOMS} by any post")

    named = customs.exchange.Submit(exchange_pb2.SubmitRequest(
        format="swg.inspection.v1", content=doc.SerializeToString(), recipients=[POST]),
        metadata=customs.metadata, timeout=30)
    assert list(named.recipients) == [POST]
    assert [d.message_id for d in post.receive(1)] == [named.message_id]
