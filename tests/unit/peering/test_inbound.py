"""What the receiving side of Peering.Relay refuses: callers that are not the pinned peer node, requests
that carry nothing, envelopes and receipts that do not verify; permanent refusals are audited and marked
REJECTED."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from gateway.envelope import CryptoPolicy
from typing import Any

import pytest

from gateway.api.swg.v1 import peering_pb2
from gateway.federation import DirectoryNode
from gateway.crypto.tokens import Identity
from gateway.errors import InvalidArgument, MalformedEnvelope, PermissionDenied
from gateway.peering import Inbound, check_peer

PIN = bytes(range(32))


class AuditLog:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def append_audit(self, events: list[Any], now_us: int) -> None:
        self.events += events


def fake_node() -> Any:
    peer = DirectoryNode(name="fr-node", address="127.0.0.1:1", tls_certificate=Path("/nonexistent.pem"),
                         tls_certificate_sha256=PIN.hex())
    me = DirectoryNode(name="de-node", address="127.0.0.1:2", tls_certificate=Path("/nonexistent.pem"),
                       tls_certificate_sha256=PIN.hex())
    return SimpleNamespace(name="de-node", directory=SimpleNamespace(nodes={"fr-node": peer, "de-node": me},
                                                                    participants={}),
                           store=AuditLog(), trust=None, keys={},
                           view=SimpleNamespace(crypto=CryptoPolicy(), pq_signing_key=lambda participant: None))


def node_identity(name: str, sha256: bytes = PIN) -> Identity:
    return Identity(name, "node", frozenset(), sha256)


def test_check_peer_accepts_the_pinned_peer() -> None:
    assert check_peer(fake_node(), node_identity("fr-node")) == "fr-node"


def test_check_peer_refuses_a_participant() -> None:
    with pytest.raises(PermissionDenied, match="peer nodes"):
        check_peer(fake_node(), Identity("FR/POST/LAPOSTE", "participant", frozenset({"submit"}), PIN))


def test_check_peer_refuses_a_node_not_in_the_directory() -> None:
    with pytest.raises(PermissionDenied, match="not a peer"):
        check_peer(fake_node(), node_identity("xx-node"))


def test_check_peer_refuses_this_node_itself() -> None:
    with pytest.raises(PermissionDenied, match="not a peer"):
        check_peer(fake_node(), node_identity("de-node"))


def test_check_peer_refuses_another_certificate_than_the_pinned_one() -> None:
    with pytest.raises(PermissionDenied, match="pins"):
        check_peer(fake_node(), node_identity("fr-node", bytes(32)))


def handle(node: Any, req: peering_pb2.RelayRequest) -> Any:
    return asyncio.run(Inbound(node, lambda _: None).handle("fr-node", req))


def test_a_request_with_neither_envelope_nor_receipt_is_rejected() -> None:
    node = fake_node()
    result = handle(node, peering_pb2.RelayRequest(relay_id="7"))
    assert isinstance(result.error, InvalidArgument)
    assert result.response.relay_id == "7"
    assert result.response.outcome == peering_pb2.RELAY_OUTCOME_REJECTED
    assert node.store.events == []  # only refused envelopes are audited


def test_an_envelope_that_does_not_parse_is_rejected_and_audited() -> None:
    node = fake_node()
    result = handle(node, peering_pb2.RelayRequest(relay_id="8", envelope=b"not an envelope"))
    assert isinstance(result.error, MalformedEnvelope)
    assert result.response.outcome == peering_pb2.RELAY_OUTCOME_REJECTED
    assert len(node.store.events) == 1
    assert node.store.events[0].actor == "fr-node"
    assert node.store.events[0].detail["via"] == "relay"


def test_a_receipt_that_does_not_parse_is_rejected_and_audited() -> None:
    node = fake_node()
    result = handle(node, peering_pb2.RelayRequest(relay_id="9", receipt={"jws": "x.y.z"}))
    assert result.error is not None and not result.error.retryable
    assert result.response.outcome == peering_pb2.RELAY_OUTCOME_REJECTED
    [event] = node.store.events
    assert (event.actor, event.detail["via"], event.detail["item"]) == ("fr-node", "relay", "receipt")


@pytest.mark.parametrize("field,value", [
    ("message_id", "../../x"), ("message_id", "/abs/path"), ("message_id", "a\x00b"), ("message_id", "ok\n"),
    ("message_id", "x" * 10_000), ("message_id", ""), ("conversation_id", "../c"), ("in_reply_to", "r\nr"),
    ("sender", "DE/POST/MAIN\n"), ("sender", "../POST"),
])
def test_relayed_ids_obey_the_rules_of_a_local_submit(field: str, value: str) -> None:
    from gateway.api.swg.v1 import envelope_pb2
    from gateway.peering.inbound import _check_header_ids

    header = envelope_pb2.EnvelopeHeader(message_id="m-1", conversation_id="c-1", sender="FR/POST/MAIN",
                                         recipients=["DE/CUSTOMS/MAIN"])
    _check_header_ids(header)  # the well-formed header passes
    setattr(header, field, value)
    with pytest.raises(InvalidArgument) as err:
        _check_header_ids(header)
    assert [v.field for v in err.value.violations] == [f"header.{field}"]
    assert not value or value not in err.value.message  # a hostile id is not echoed


def test_relayed_recipients_are_participant_ids() -> None:
    from gateway.api.swg.v1 import envelope_pb2
    from gateway.peering.inbound import _check_header_ids

    header = envelope_pb2.EnvelopeHeader(message_id="m-1", sender="FR/POST/MAIN",
                                         recipients=["DE/CUSTOMS/MAIN", "../../etc"])
    with pytest.raises(InvalidArgument) as err:
        _check_header_ids(header)
    assert [v.field for v in err.value.violations] == ["header.recipients[1]"]
