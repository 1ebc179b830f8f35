"""Per-participant rate limits: a flooding client is held back with RetryInfo, the others proceed."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.api.swg.v1 import exchange_pb2
from gateway.errors import ResourceExhausted
from gateway.transport.ratelimit import RateLimiter
from tests.security.harness import CUSTOMS, POST, submit_request
from tests.support import tally
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
