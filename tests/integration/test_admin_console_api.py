"""The Admin RPCs the operator console is built on, through a real node over mTLS: message search with its
filters and keyset pages, one message with its audit entries, the overview counts, node-wide item timelines."""

from __future__ import annotations

import grpc
import pytest

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from gateway.testing.documents import aed_batch

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2


def admin(de_node):  # type: ignore[no-untyped-def]
    c = de_node.client(CUSTOMS, scopes=("admin",))
    stub = admin_pb2_grpc.AdminStub(c.channel)
    return lambda method, req: getattr(stub, method)(req, metadata=c.metadata, timeout=30)


def submit(post, serial: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    batch = aed_batch(1, start=serial)
    resp = post.exchange.Submit(S.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString()),
                                metadata=post.metadata, timeout=30)
    return resp.message_id, batch.items[0].item_id


def test_search_pages_through_every_message_once_newest_first_and_filters_by_item_and_state(de_node) -> None:
    call = admin(de_node)
    post = de_node.client(POST)
    sent = [submit(post, 71000001 + i) for i in range(5)]

    seen, token = [], ""
    for _ in range(10):
        page = call("SearchMessages", admin_pb2.SearchMessagesRequest(limit=2, page_token=token))
        assert len(page.messages) <= 2
        seen += [m.message_id for m in page.messages]
        token = page.next_page_token
        if not token:
            break
    assert seen == [mid for mid, _ in reversed(sent)]

    mid, item = sent[2]
    [found] = call("SearchMessages", admin_pb2.SearchMessagesRequest(item_id=item)).messages
    assert (found.message_id, list(found.item_ids), found.sender) == (mid, [item], POST)
    assert list(found.recipients) == [CUSTOMS] and list(found.states) == [S.DELIVERY_STATE_QUEUED]
    assert len(call("SearchMessages", admin_pb2.SearchMessagesRequest(participant=CUSTOMS)).messages) == 5
    assert not call("SearchMessages", admin_pb2.SearchMessagesRequest(state=S.DELIVERY_STATE_FAILED)).messages
    with pytest.raises(grpc.RpcError) as err:
        call("SearchMessages", admin_pb2.SearchMessagesRequest(page_token="not-a-token"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    m = call("GetMessage", admin_pb2.GetMessageRequest(message_id=mid))
    assert m.status.message_id == mid and list(m.item_ids) == [item]
    assert [e.event for e in m.audit][:1] == ["accepted"]

    o = call("GetOverview", admin_pb2.GetOverviewRequest())
    assert o.node == "de-node" and o.messages == 5
    assert {q.recipient: q.depth for q in o.queues} == {CUSTOMS: 5}
    assert dict(o.deliveries_by_state) == {"QUEUED": 5}
    assert sum(b.accepted for b in o.throughput) == 5 and len(o.throughput) == 60
    assert [p.node for p in o.peers] == ["fr-node"]

    # The operator's view of an item: the post's AED to customs, though the console's participant is customs'.
    [tl] = call("TrackNodeItems", admin_pb2.TrackNodeItemsRequest(item_ids=[item])).items
    assert [e.message_id for e in tl.events] == [mid]
    [unknown] = call("TrackNodeItems", admin_pb2.TrackNodeItemsRequest(item_ids=["RR000000005DE"])).items
    assert unknown.error.code == grpc.StatusCode.NOT_FOUND.value[0] and not unknown.events


def test_the_console_rpcs_need_the_admin_scope(de_node) -> None:
    c = de_node.client(POST, scopes=("submit", "receive", "status"))
    stub = admin_pb2_grpc.AdminStub(c.channel)
    for method, req in (("GetOverview", admin_pb2.GetOverviewRequest()),
                        ("SearchMessages", admin_pb2.SearchMessagesRequest()),
                        ("GetMessage", admin_pb2.GetMessageRequest(message_id="x")),
                        ("TrackNodeItems", admin_pb2.TrackNodeItemsRequest(item_ids=["RR000000000DE"]))):
        with pytest.raises(grpc.RpcError) as err:
            getattr(stub, method)(req, metadata=c.metadata, timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
