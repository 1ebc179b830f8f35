"""Per-participant rate limits: a flooding client is held back with RetryInfo, the others proceed."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from gateway.api.swg.v1 import exchange_pb2
from gateway.errors import ResourceExhausted
from gateway.exchange.delivery import DEFAULT_LOCAL_MAX_ATTEMPTS
from gateway.store.states import FAILED
from gateway.testing.documents import aed_batch
from gateway.transport.ratelimit import RateLimiter
from tests.security.harness import CUSTOMS, POST, SecurityNode, submit_request
from tests.support import tally
from tests.support.two_nodes import wait_for
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation


def test_bucket_refills_at_the_configured_rate_and_keeps_participants_apart() -> None:
    now = [100.0]
    limiter = RateLimiter(rate_per_s=2.0, burst=2, clock=lambda: now[0])
    limiter.acquire("A")
    limiter.acquire("A")
    with pytest.raises(ResourceExhausted) as err:
        limiter.acquire("A")
    assert err.value.retry_after_s == pytest.approx(0.5)
    limiter.acquire("B")  # B has its own bucket
    now[0] += 0.5
    limiter.acquire("A")  # one token back after 1/rate seconds


def test_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(rate_per_s=0.0, burst=0)
    for _ in range(1000):
        limiter.acquire("A")


def test_flooding_client_is_limited_while_another_participant_proceeds(federation: Federation, tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    # A bucket that refills once in ~17 minutes: what is refused is decided by counts, not by timing.
    config = write_node_config(federation, tmp_path, "de-node", port, directory,
                               limits="rate_per_s = 0.001\nburst = 3")
    runner = NodeRunner(config).start()
    post = connect(federation, "de-node", runner.address, POST)
    customs = connect(federation, "de-node", runner.address, CUSTOMS)
    try:
        accepted, limited = [], []
        for _ in range(10):
            try:
                accepted.append(post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30))
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.details()
                assert "rate limit" in err.details()
                [detail] = [d for d in rpc_status.from_call(err).details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                assert info.retry_delay.seconds > 0
                limited.append(err)
                tally.attack("flood", True)
        assert (len(accepted), len(limited)) == (3, 7)
        # Customs, with its own bucket, receives and acknowledges what the post got through.
        stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=30)
        got = []
        for d in stream:
            got.append(d.message_id)
            if len(got) == 3:
                break
        stream.cancel()
        assert sorted(got) == sorted(r.message_id for r in accepted)
        ack = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=got),
                                           metadata=customs.metadata, timeout=30)
        assert len(ack.receipts) == 3
    finally:
        post.close()
        customs.close()
        runner.close()


def _node(federation: Federation, tmp_path: Path, limits: str = "", delivery: str = "") -> SecurityNode:
    return SecurityNode(federation, tmp_path, limits=limits, delivery=delivery)


def test_each_message_of_a_submit_stream_counts_against_the_rate_limit(federation: Federation,
                                                                       tmp_path: Path) -> None:
    node = _node(federation, tmp_path, limits="rate_per_s = 0.001\nburst = 3")
    try:
        post = node.client(POST)
        answers = list(post.exchange.SubmitStream(iter([submit_request(aed_batch(1, start=60_000_000 + i))
                                                        for i in range(10)]), metadata=post.metadata, timeout=60))
        assert len(answers) == 10  # one answer per request, in order, the stream itself is not broken
        accepted = [a for a in answers if not a.HasField("error")]
        limited = [a for a in answers if a.HasField("error")]
        # Three tokens: one for opening the stream, two for its first two documents.
        assert (len(accepted), len(limited)) == (2, 8)
        assert answers.index(limited[0]) == 2
        for a in limited:
            tally.attack("flood", a.error.code == code_pb2.RESOURCE_EXHAUSTED and "rate limit" in a.error.message)
            assert a.error.code == code_pb2.RESOURCE_EXHAUSTED and "rate limit" in a.error.message
        assert node.counts() == (2, 2)
        # The bucket is empty for every kind of call of this participant now, opening a Receive stream too.
        with pytest.raises(grpc.RpcError) as err:
            next(iter(post.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=post.metadata, timeout=30)))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        node.close()


def test_refusals_are_audited_as_counts_per_participant_and_kind_not_one_row_each(federation: Federation,
                                                                                 tmp_path: Path) -> None:
    node = _node(federation, tmp_path, limits="rate_per_s = 0.001\nburst = 3")
    try:
        post = node.client(POST)
        bad = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=b"\xff not a protobuf")
        codes = []
        for _ in range(200):
            try:
                post.exchange.Submit(bad, metadata=post.metadata, timeout=30)
            except grpc.RpcError as e:
                codes.append(e.code())
        assert codes.count(grpc.StatusCode.INVALID_ARGUMENT) == 3
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 197
        # The first refusal of each kind is in the audit log at once, with its reason.
        first = wait_for(lambda: len(rows := node.audit_rows("refused")) == 2 and rows, timeout=30)
        assert {json.loads(d)["code"] for _, _, d in first} == {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}
    finally:
        node.close()  # a stopping node writes the counts of its open windows
    rows = node.audit_rows("refused")
    details = [json.loads(d) for _, actor, d in rows if actor == POST]
    assert len(rows) == len(details) <= 4
    by_code: dict[str, int] = {}
    for d in details:
        by_code[d["code"]] = by_code.get(d["code"], 0) + d["count"]
    assert by_code == {"INVALID_ARGUMENT": 3, "RESOURCE_EXHAUSTED": 197}


def test_receive_streams_opened_and_cancelled_in_a_loop_have_bounded_attempts_and_audit(federation: Federation,
                                                                                       tmp_path: Path) -> None:
    node = _node(federation, tmp_path)  # no rate limit; [delivery] max_attempts left at its default
    try:
        post, customs = node.client(POST), node.client(CUSTOMS)
        mid = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30).message_id
        for _ in range(DEFAULT_LOCAL_MAX_ATTEMPTS):
            stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=30)
            assert next(stream).message_id == mid
            stream.cancel()  # never acknowledged: the delivery goes back to the queue
        # One hand-out more than max_attempts: the node gives up instead, a dead letter audited once.
        stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=60)
        try:
            state, attempts, last_error = wait_for(lambda: (s := node.delivery_state(mid))[0] == FAILED and s,
                                                   timeout=30)
        finally:
            stream.cancel()
        tally.attack("flood", True)
        assert "gave up after" in last_error and "delivery.max_attempts" in last_error
        assert len(node.audit_rows("delivered", mid)) == DEFAULT_LOCAL_MAX_ATTEMPTS
        assert len(node.audit_rows("failed", mid)) == 1
        node.assert_healthy()
    finally:
        node.close()
