"""PostgreSQL crashing under a running node: every path, reads included, answers UNAVAILABLE with RetryInfo
and no internals (no host, port, SQL or driver text), and the node works again once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import Client, NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support import tally
from tests.support.pg import PostgresServer

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    pg = PostgresServer()  # its own: this test crashes it
    try:
        yield pg
    finally:
        pg.stop()


def retry_info(err: grpc.RpcError) -> error_details_pb2.RetryInfo | None:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            for d in st.details:
                info = error_details_pb2.RetryInfo()
                if d.Unpack(info):
                    return info
    return None


def unavailable(call: object, port: int) -> None:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as err:
        details = err.details() or ""
        assert err.code() == grpc.StatusCode.UNAVAILABLE, f"{err.code()}: {details}"
        for leak in ("127.0.0.1", str(port), "sqlalchemy", "psycopg", "OperationalError", "SELECT", "Unexpected"):
            assert leak not in details, details
        assert "database unavailable" in details and "incident" in details
        assert retry_info(err) is not None, "no RetryInfo: clients cannot tell when to retry"
        return
    raise AssertionError("answered while the database is down")


def test_database_crash_every_path_unavailable_then_recovers(federation: Federation, tmp_path: Path,
                                                             server: PostgresServer) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory,
                               database_url=server.create_database())
    runner = NodeRunner(config).start()
    post: Client = connect(federation, "de-node", runner.address, POST)
    customs: Client = connect(federation, "de-node", runner.address, CUSTOMS)

    def submit(mid: str) -> exchange_pb2.SubmitResponse:
        req = exchange_pb2.SubmitRequest(format="swg.aed.v1", message_id=mid,
                                         content=aed_batch(1, start=30_000_000).SerializeToString())
        return post.exchange.Submit(req, metadata=post.metadata, timeout=20)

    def status(mid: str) -> exchange_pb2.GetStatusResponse:
        return post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=mid), metadata=post.metadata,
                                       timeout=20)

    health = health_pb2_grpc.HealthStub(post.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="swg.v1.Exchange"), timeout=60)
    try:
        submit("before-crash")
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        server.crash()
        # Probes see it without polling: the Watch stream announces the change.
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        tally.fault("postgresql -m immediate")
        for _ in range(2):  # the second call must not find a session left broken by the first
            unavailable(lambda: submit("before-crash"), server.port)  # a retried submit reads first
            unavailable(lambda: status("before-crash"), server.port)
            unavailable(lambda: customs.exchange.Acknowledge(
                exchange_pb2.AcknowledgeRequest(message_ids=["before-crash"]), metadata=customs.metadata,
                timeout=20), server.port)
        server.start()
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        # (The throwaway server runs with synchronous_commit=off, so its crash may lose the last commits;
        # a production server does not. What matters here is that the node's sessions work again.)
        assert list(submit("after-restart").recipients) == [CUSTOMS]
        assert status("after-restart").message_id == "after-restart"
    finally:
        watch.cancel()
        post.close()
        customs.close()
        runner.close()
