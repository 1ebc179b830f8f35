"""The whole gRPC health protocol, as Kubernetes probes and grpc-health-probe use it: Check, List and the
Watch stream, through the same interceptor as every other call."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config


def start_node(federation: Federation, tmp_path: Path, node_lines: str = "") -> NodeRunner:
    """de-node on loopback; ``node_lines`` go into its [node] section."""
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory)
    config.write_text(config.read_text().replace("[node]\n", f"[node]\n{node_lines}", 1))
    return NodeRunner(config).start()


def test_health_check_watch_and_list_answer(federation: Federation, tmp_path: Path) -> None:
    runner = start_node(federation, tmp_path)
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


def test_every_service_has_a_health_name(federation: Federation, tmp_path: Path) -> None:
    runner = start_node(federation, tmp_path)
    client = connect(federation, "de-node", runner.address, "DE/POST/MAIN")
    try:
        stub = health_pb2_grpc.HealthStub(client.channel)
        listed = stub.List(health_pb2.HealthListRequest(), timeout=10)
        assert sorted(listed.statuses) == ["", "swg.v1.Admin", "swg.v1.Exchange", "swg.v1.Peering"]
        for service in ("swg.v1.Peering", "swg.v1.Admin"):
            assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
    finally:
        client.close()
        runner.close()


def test_a_plain_health_port_answers_probes_without_a_certificate_and_serves_nothing_else(
        federation: Federation, tmp_path: Path) -> None:
    health_port = free_port()
    runner = start_node(federation, tmp_path, f'health_listen = "127.0.0.1:{health_port}"\n')
    try:
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as plain:
            stub = health_pb2_grpc.HealthStub(plain)
            assert stub.Check(health_pb2.HealthCheckRequest(service="swg.v1.Exchange"), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as info:
                plain.unary_unary("/swg.v1.Exchange/GetStatus")(b"", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with grpc.insecure_channel(runner.address) as no_tls:  # the main port still wants mTLS
            with pytest.raises(grpc.RpcError) as info:
                health_pb2_grpc.HealthStub(no_tls).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        runner.close()


def test_reflection_v1_and_v1alpha_list_the_services(federation: Federation, tmp_path: Path) -> None:
    from grpc_reflection.v1alpha import reflection_pb2

    runner = start_node(federation, tmp_path)
    client = connect(federation, "de-node", runner.address, "DE/POST/MAIN")
    try:
        for package in ("grpc.reflection.v1alpha", "grpc.reflection.v1"):
            call = client.channel.stream_stream(
                f"/{package}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
            answers = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
            names = {s.name for s in answers[0].list_services_response.service}
            assert {"swg.v1.Exchange", "swg.v1.Peering", "swg.v1.Admin"} <= names, (package, names)
    finally:
        client.close()
        runner.close()
