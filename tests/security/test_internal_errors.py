"""What a caller learns when it sends what no code path expects: a clear refusal of its own request, or
INTERNAL with an incident id; never UNKNOWN, exception text, SQL or a 0.9 MB error."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config

CUSTOMS = "DE/CUSTOMS/MAIN"


@pytest.fixture
def node(federation: Federation, tmp_path: Path) -> Iterator[NodeRunner]:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    runner = NodeRunner(write_node_config(federation, tmp_path, "de-node", port, directory)).start()
    try:
        yield runner
    finally:
        runner.close()


def refusal(call: object) -> grpc.RpcError:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as err:
        assert err.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK), err.details()
        details = err.details() or ""
        for leak in ("Traceback", "TypeError", "sqlalchemy", "SELECT", "Unexpected <class"):
            assert leak not in details, details
        trailing = sum(len(v) for _, v in (err.trailing_metadata() or ()))
        assert len(details) + trailing <= 8 * 1024
        return err
    raise AssertionError("accepted")


def test_acknowledge_with_300000_ids_is_refused_briefly(federation: Federation, node: NodeRunner) -> None:
    customs = connect(federation, "de-node", node.address, CUSTOMS)
    try:
        ids = [f"m-{i}" for i in range(300_000)]
        err = refusal(lambda: customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=ids),
                                                           metadata=customs.metadata, timeout=30))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "at most" in (err.details() or "")
    finally:
        customs.close()


def test_acknowledge_with_malformed_ids_names_each(federation: Federation, node: NodeRunner) -> None:
    customs = connect(federation, "de-node", node.address, CUSTOMS)
    try:
        err = refusal(lambda: customs.exchange.Acknowledge(
            exchange_pb2.AcknowledgeRequest(message_ids=["ok-1", "../../etc/passwd\n", "x" * 10_000]),
            metadata=customs.metadata, timeout=30))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        customs.close()


def _token(federation: Federation, **overrides: object) -> str:
    """A token signed by the node's own issuer key (so the signature verifies) with claims of the wrong type."""
    pp = federation.paths.participants[CUSTOMS]
    key = serialization.load_pem_private_key(federation.paths.nodes["de-node"].token_key.read_bytes(), None)
    der = x509.load_pem_x509_certificate(pp.client_cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "swg:de-node", "aud": "swg:de-node", "sub": CUSTOMS, "iat": now, "nbf": now, "exp": now + 600,
        "jti": str(uuid.uuid4()), "scope": "receive status",
        "cnf": {"x5t#S256": base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()},
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="ES256")  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides", [{"exp": "9999999999"}, {"iat": "0"}, {"exp": True}, {"sub": ["DE/CUSTOMS/MAIN"]},
                                       {"cnf": "x"}, {"cnf": {"x5t#S256": 7}}],
                         ids=json.dumps)
def test_tokens_with_claims_of_the_wrong_type_are_unauthenticated(federation: Federation, node: NodeRunner,
                                                                   overrides: dict[str, object]) -> None:
    customs = connect(federation, "de-node", node.address, CUSTOMS, token=_token(federation, **overrides))
    try:
        err = refusal(lambda: customs.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="m-1"),
                                                         metadata=customs.metadata, timeout=30))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED, err.details()
    finally:
        customs.close()
