"""One accepted document must not block a recipient's inbox, and sizes no recipient format can carry are refused.

Against a real node over mTLS: a delivery too large for gRPC's send limit in the format its recipient asks
goes back with a backoff while the messages behind it flow, and is a dead letter (FAILED, audited once,
listed by Admin.ListDeliveries) after ``[delivery] max_attempts``; documents whose items or encoded size
no recipient could be given are refused at submit, naming the limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from adapters import registry
from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, item_pb2
from gateway.config.settings import DEFAULT_MAX_ITEMS_PER_DOCUMENT, MESSAGE_OVERHEAD_BYTES
from gateway.store.states import FAILED
from gateway.testing.documents import aed_batch, s10
from gateway.testing.federation import Federation
from tests.security.harness import CUSTOMS, POST, SecurityNode, submit_request
from tests.support.two_nodes import wait_for

LIMIT = 2 * 1024 * 1024
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def node(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityNode]:
    n = SecurityNode(federation, tmp_path_factory.mktemp("hol"), limits=f"max_message_bytes = {LIMIT}",
                     delivery=f"max_attempts = {MAX_ATTEMPTS}\nretry_initial_s = 0.05\nretry_max_s = 0.2")
    try:
        yield n
    finally:
        n.close()


def batch_of_wco_size(target: int, start: int) -> item_pb2.ItemBatch:
    """An AED batch whose WCO JSON (customs' preferred format) is just under ``target`` bytes."""
    per_item = len(registry.encode("wco.ecommerce.v1", registry.AED, aed_batch(100))) / 100
    n = int(target / per_item)
    while True:
        batch = aed_batch(n, start=start)
        if len(registry.encode("wco.ecommerce.v1", registry.AED, batch)) <= target:
            return batch
        n -= 10


def test_a_delivery_too_large_to_send_does_not_block_the_inbox_and_becomes_a_dead_letter(node: SecurityNode) -> None:
    big = batch_of_wco_size(int(LIMIT * 0.9), start=20_000_000)
    payload = big.SerializeToString()
    # Accepted: customs' own format carries it. Asked as ITMATT with the envelope beside it, it cannot be sent.
    assert len(registry.encode("upu.itmatt.v1", registry.AED, big)) + len(payload) > LIMIT + MESSAGE_OVERHEAD_BYTES
    post, customs = node.client(POST), node.client(CUSTOMS)
    first = post.exchange.Submit(submit_request(big), metadata=post.metadata, timeout=60).message_id
    small = [post.exchange.Submit(submit_request(aed_batch(1, start=30_000_000 + i)), metadata=post.metadata,
                                  timeout=30).message_id for i in range(3)]

    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(format="upu.itmatt.v1", include_envelope=True),
                                      metadata=customs.metadata, timeout=120)
    try:
        got = [next(stream).message_id for _ in small]
        assert sorted(got) == sorted(small)  # the rest flow; the stream is not broken by the large one
        customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=got), metadata=customs.metadata,
                                     timeout=30)
        # The open stream keeps trying the large one after its backoff, until max_attempts.
        state, attempts, last_error = wait_for(lambda: (s := node.delivery_state(first))[0] == FAILED and s,
                                               timeout=60)
    finally:
        stream.cancel()
    assert attempts == MAX_ATTEMPTS
    assert "send limit" in last_error and "limits.max_message_bytes" in last_error
    assert len(node.audit_rows("failed", first)) == 1
    assert node.audit_rows("delivered", first) == []
    # A dead letter, as `gateway deliveries` lists them; the sender's status says FAILED.
    dead = admin_pb2_grpc.AdminStub(post.channel).ListDeliveries(
        admin_pb2.ListDeliveriesRequest(states=[FAILED]), metadata=post.metadata, timeout=30)
    assert [(d.message_id, d.recipient) for d in dead.deliveries] == [(first, CUSTOMS)]
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=first), metadata=post.metadata,
                                     timeout=30)
    assert [r.state for r in status.recipients] == [FAILED]
    # The operator puts it back; asked in customs' own format (which fits) it is delivered and acknowledged.
    retried = admin_pb2_grpc.AdminStub(post.channel).RetryDeliveries(
        admin_pb2.RetryDeliveriesRequest(message_ids=[first]), metadata=post.metadata, timeout=30)
    assert retried.requeued == 1
    [delivery] = customs.receive(1, timeout=60)
    assert (delivery.message_id, delivery.format, delivery.attempt) == (first, "wco.ecommerce.v1", 1)
    customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[first]), metadata=customs.metadata,
                                 timeout=30)
    node.assert_healthy()


def test_a_document_too_large_in_its_recipients_format_is_refused_at_submit(node: SecurityNode) -> None:
    batch = batch_of_wco_size(int(LIMIT * 1.3), start=40_000_000)
    assert len(batch.SerializeToString()) < LIMIT  # the submitted bytes are within the limit; customs' JSON is not
    post = node.client(POST)
    err = node.assert_refused("size", lambda: post.exchange.Submit(submit_request(batch), metadata=post.metadata,
                                                                   timeout=60),
                              grpc.StatusCode.RESOURCE_EXHAUSTED, "limits.max_message_bytes")
    assert "wco.ecommerce.v1" in (err.details() or "")


def test_a_document_with_more_items_than_the_limit_is_refused_at_submit(node: SecurityNode) -> None:
    # The red team's document: 40,000 items of a few bytes each, under the byte limit (about 1 MB).
    batch = item_pb2.ItemBatch(items=[item_pb2.PostalItem(item_id=s10(50_000_000 + i, country="FR"), origin_country="FR",
                                                          destination_country="DE") for i in range(40_000)])
    assert len(batch.SerializeToString()) < LIMIT
    post = node.client(POST)
    err = node.assert_refused("size", lambda: post.exchange.Submit(submit_request(batch), metadata=post.metadata,
                                                                   timeout=60),
                              grpc.StatusCode.INVALID_ARGUMENT, "limits.max_items_per_document")
    assert f"40000 items; this node accepts at most {DEFAULT_MAX_ITEMS_PER_DOCUMENT}" in (err.details() or "")
