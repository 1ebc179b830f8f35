"""The whole gRPC health protocol, as Kubernetes probes and grpc-health-probe use it: Check, List and the
Watch stream, through the same interceptor as every other call."""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config


def test_health_check_watch_and_list_answer(federation: Federation, tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    runner = NodeRunner(write_node_config(federation, tmp_path, "de-node", port, directory)).start()
    client = connect(federation, "de-node", runner.address, "DE/POST/MAIN")
    try:
        stub = health_pb2_grpc.HealthStub(client.channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == serving
        watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        try:
            assert next(watch).status == serving  # the first answer is the current status
        finally:
            watch.cancel()
        listed = stub.List(health_pb2.HealthListRequest(), timeout=10)
        assert listed.statuses[""].status == serving
        assert listed.statuses["swg.v1.Exchange"].status == serving
    except grpc.RpcError as err:
        raise AssertionError(f"{err.code()}: {err.details()}") from None
    finally:
        client.close()
        runner.close()
