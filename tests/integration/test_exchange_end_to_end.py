"""One node serves its hosted participants end to end: submit → receive → acknowledge → status."""

from __future__ import annotations

import grpc
import pytest

from gateway import envelope
from gateway.api.swg.v1 import exchange_pb2, item_pb2
from tests.support.db import stored_values, table_count
from gateway.testing.documents import aed_batch

POST, CUSTOMS, TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"


def submit_aed(client, batch: item_pb2.ItemBatch, **kw) -> exchange_pb2.SubmitResponse:  # type: ignore[no-untyped-def]
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString(), **kw)
    return client.exchange.Submit(req, metadata=client.metadata, timeout=30)


def receive(client, count: int, **kw) -> list[exchange_pb2.Delivery]:  # type: ignore[no-untyped-def]
    return client.receive(count, **kw)


def test_post_submits_aed_customs_receives_acknowledges_and_post_sees_verified_receipt(de_node, federation) -> None:
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    batch = aed_batch(3)
    resp = submit_aed(post, batch)
    assert list(resp.recipients) == [CUSTOMS]
    assert not resp.duplicate

    [delivery] = receive(customs, 1, format="swg.aed.v1")
    assert delivery.message_id == resp.message_id
    assert delivery.sender == POST
    assert item_pb2.ItemBatch.FromString(delivery.content) == batch

    ack = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id]),
                                       metadata=customs.metadata)
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=resp.message_id),
                                     metadata=post.metadata)
    [rs] = status.recipients
    assert rs.recipient == CUSTOMS
    assert rs.state == exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED
    [receipt] = rs.receipts
    assert receipt.jws == ack.receipts[0].jws
    verified = envelope.verify_receipt(receipt.jws, federation.trust)
    assert verified.message_id == resp.message_id
    assert verified.recipient == CUSTOMS
    assert verified.envelope_sha256 == delivery.envelope_sha256 == status.envelope_sha256


def test_unacknowledged_delivery_survives_a_restart_and_is_delivered_again(de_node) -> None:
    post = de_node.client(POST)
    resp = submit_aed(post, aed_batch(1))
    customs = de_node.client(CUSTOMS)
    [first] = receive(customs, 1)
    assert first.attempt == 1
    de_node.restart()
    customs = de_node.client(CUSTOMS)
    [again] = receive(customs, 1)
    assert again.message_id == resp.message_id
    assert again.attempt == 2


def test_database_holds_no_plaintext_payload(de_node) -> None:
    post = de_node.client(POST)
    marker = "Unmistakable-Plaintext-Marker-7f3a"
    submit_aed(post, aed_batch(2, marker=marker))
    de_node.runner.stop()
    values = list(stored_values(de_node.db_url))
    assert any(len(v) > 1000 for v in values)  # the sealed envelope is there
    for plaintext in (marker.encode(), "Erika Mustermann".encode()):
        assert not any(plaintext in v for v in values)
    if de_node.db_url.startswith("sqlite"):
        # The files themselves too, write-ahead log included.
        data = b"".join(p.read_bytes() for p in de_node.tmp.glob("de-node.db*"))
        assert len(data) > 0
        assert marker.encode() not in data
        assert "Erika Mustermann".encode() not in data


def test_same_message_id_twice_is_one_message_and_other_content_is_already_exists(de_node) -> None:
    post = de_node.client(POST)
    batch = aed_batch(1)
    first = submit_aed(post, batch, message_id="post-2026-000001")
    second = submit_aed(post, batch, message_id="post-2026-000001")
    assert second.duplicate and second.message_id == first.message_id
    assert second.accepted_at == first.accepted_at
    with pytest.raises(grpc.RpcError) as err:
        submit_aed(post, aed_batch(1, marker="something else"), message_id="post-2026-000001")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    de_node.runner.stop()
    assert table_count(de_node.db_url, "messages") == 1
    assert table_count(de_node.db_url, "deliveries") == 1


def test_delivery_not_acknowledged_within_visibility_timeout_comes_again_on_the_same_stream(federation, tmp_path) -> None:
    from tests.integration.conftest import SingleNode

    node = SingleNode(federation, tmp_path, visibility_timeout_s=0.3)
    try:
        post, customs = node.client(POST), node.client(CUSTOMS)
        resp = submit_aed(post, aed_batch(1))
        got = receive(customs, 2)
        assert [d.message_id for d in got] == [resp.message_id] * 2
        assert [d.attempt for d in got] == [1, 2]
    finally:
        node.close()


def test_undelivered_message_becomes_expired_and_the_sender_sees_it(de_node) -> None:
    from google.protobuf import timestamp_pb2

    from gateway.clock import now_us

    post = de_node.client(POST)
    expires = timestamp_pb2.Timestamp(seconds=now_us() // 1_000_000 + 3600)
    resp = submit_aed(post, aed_batch(1), expires_at=expires)
    store = de_node.runner.node.store
    # The expiry worker's own operation, run as if an hour had passed.
    expired = store.expire((expires.seconds + 1) * 1_000_000).result()
    assert [d.message_id for d in expired] == [resp.message_id]
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=resp.message_id), metadata=post.metadata)
    assert status.recipients[0].state == exchange_pb2.DELIVERY_STATE_EXPIRED
    assert "expired" in status.recipients[0].last_error
    customs = de_node.client(CUSTOMS)
    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=1)
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # nothing is handed out after expiry


def test_status_of_someone_elses_message_is_not_found(de_node) -> None:
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    resp = submit_aed(post, aed_batch(1))
    with pytest.raises(grpc.RpcError) as err:
        customs.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=resp.message_id), metadata=customs.metadata)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_acknowledging_while_the_stream_still_holds_the_delivery_and_after_it_ended_gives_one_receipt(
        de_node, federation) -> None:
    post, customs = de_node.client(POST), de_node.client(CUSTOMS)
    resp = submit_aed(post, aed_batch(1))
    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(format="swg.aed.v1"), metadata=customs.metadata,
                                      timeout=30)
    delivery = next(iter(stream))
    # The stream is open and holds the delivery: its acknowledgement is answered from what the stream holds.
    held = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id]),
                                        metadata=customs.metadata)
    stream.cancel()
    verified = envelope.verify_receipt(held.receipts[0].jws, federation.trust)
    assert verified.envelope_sha256 == delivery.envelope_sha256
    # Again once the stream is gone (read from the database): the first receipt, not a second one.
    again = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id]),
                                         metadata=customs.metadata)
    assert again.receipts[0].jws == held.receipts[0].jws
    with pytest.raises(grpc.RpcError) as info:
        customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id, "not-yours"]),
                                     metadata=customs.metadata)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and "not-yours" in info.value.details()
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=resp.message_id), metadata=post.metadata)
    assert [len(r.receipts) for r in status.recipients] == [1]
