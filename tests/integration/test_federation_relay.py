"""Two real nodes on loopback relay sealed envelopes to each other, with receipts both ways."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from gateway import envelope
from gateway.crypto import pki
from gateway.api.swg.v1 import exchange_pb2, item_pb2, peering_pb2, peering_pb2_grpc
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from tests.support.two_nodes import TwoNodes, wait_for

FR_POST, DE_CUSTOMS = "FR/POST/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2


def submit_aed(client, batch: item_pb2.ItemBatch, **kw) -> S.SubmitResponse:  # type: ignore[no-untyped-def]
    req = S.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString(), **kw)
    return client.exchange.Submit(req, metadata=client.metadata, timeout=30)


def status(client, message_id: str) -> S.GetStatusResponse:  # type: ignore[no-untyped-def]
    return client.exchange.GetStatus(S.GetStatusRequest(message_id=message_id), metadata=client.metadata, timeout=10)


def receive(client, count: int, timeout: float = 60) -> list[S.Delivery]:  # type: ignore[no-untyped-def]
    return client.receive(count, timeout, format="swg.aed.v1", max_in_flight=256)


def state_of(client, message_id: str) -> int:  # type: ignore[no-untyped-def]
    return status(client, message_id).recipients[0].state


def test_cross_node_delivery_with_receipts_and_no_plaintext_on_the_way(nodes: TwoNodes, federation) -> None:
    post, customs = nodes.client("fr-node", FR_POST), nodes.client("de-node", DE_CUSTOMS)
    marker = "Distinctive-Relay-Payload-4c1e"
    batch = aed_batch(2, marker=marker)
    resp = submit_aed(post, batch)
    assert list(resp.recipients) == [DE_CUSTOMS]

    wait_for(lambda: state_of(post, resp.message_id) == S.DELIVERY_STATE_DELIVERED)
    [delivered] = status(post, resp.message_id).recipients[0].receipts
    rc = envelope.verify_receipt(delivered.jws, federation.trust)
    assert (rc.recipient, rc.issuing_node, rc.message_id) == (DE_CUSTOMS, "de-node", resp.message_id)

    [d] = receive(customs, 1)
    assert d.sender == FR_POST and item_pb2.ItemBatch.FromString(d.content) == batch
    assert d.envelope_sha256 == status(post, resp.message_id).envelope_sha256 == rc.envelope_sha256
    customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[resp.message_id]), metadata=customs.metadata)

    wait_for(lambda: state_of(post, resp.message_id) == S.DELIVERY_STATE_ACKNOWLEDGED)
    kinds = []
    for r in status(post, resp.message_id).recipients[0].receipts:
        kinds.append(envelope.verify_receipt(r.jws, federation.trust).recipient)
    assert kinds == [DE_CUSTOMS, DE_CUSTOMS]  # delivered + acknowledged, both signed for the recipient

    for n in ("de-node", "fr-node"):
        nodes.runners[n].stop()
        data = nodes.db_bytes(n)
        assert data and marker.encode() not in data and "Erika Mustermann".encode() not in data


def test_peer_down_then_back_gets_every_message_once_in_order(nodes: TwoNodes) -> None:
    post = nodes.client("fr-node", FR_POST)
    nodes.runners["de-node"].stop()
    ids = []
    for i in range(200):
        ids.append(submit_aed(post, aed_batch(1, start=20000000 + i)).message_id)
    # While de-node is down the deliveries wait, with the reason visible to the sender.
    wait_for(lambda: status(post, ids[0]).recipients[0].last_error or None)
    assert state_of(post, ids[-1]) in (S.DELIVERY_STATE_QUEUED, S.DELIVERY_STATE_IN_FLIGHT)

    nodes.runners["de-node"].start()
    customs = nodes.client("de-node", DE_CUSTOMS)
    got = receive(customs, 200)
    assert [d.message_id for d in got] == ids
    customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=ids), metadata=customs.metadata)
    wait_for(lambda: all(state_of(post, m) == S.DELIVERY_STATE_ACKNOWLEDGED for m in ids[::20]), timeout=60)
    wait_for(lambda: all(state_of(post, m) == S.DELIVERY_STATE_ACKNOWLEDGED for m in ids), timeout=60)
    db = nodes.runners["de-node"].node.store
    assert db.count("messages") == 200 and db.count("deliveries") == 200
    # The sender's metrics tell the operator the same story, per peer.
    registry = nodes.runners["fr-node"].node.metrics.registry
    assert registry.get_sample_value("swg_relay_total", {"peer": "de-node", "outcome": "relayed"}) == 200
    assert registry.get_sample_value("swg_peer_link_down_total", {"peer": "de-node"}) >= 1


def _relay_stub(fed: Federation, tmp: Path, address: str, cert: Path, key: Path) -> peering_pb2_grpc.PeeringStub:
    creds = grpc.ssl_channel_credentials(root_certificates=fed.paths.ca_cert.read_bytes(),
                                         private_key=key.read_bytes(), certificate_chain=cert.read_bytes())
    channel = grpc.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", "de-node")])
    return peering_pb2_grpc.PeeringStub(channel)


def test_a_valid_node_certificate_that_the_directory_does_not_pin_is_refused(nodes: TwoNodes, federation,
                                                                               tmp_path: Path) -> None:
    # A second, perfectly valid TLS certificate for "fr-node" from the federation CA: not the pinned one.
    key = pki.new_key("ecdsa-p256")
    cert = pki.issue_certificate(federation.ca, key.public_key(), profile=pki.Profile.NODE_TLS, node="fr-node")
    cert_path, key_path = pki.write_cert(tmp_path / "rogue.crt", cert), pki.write_key(tmp_path / "rogue.key", key)
    stub = _relay_stub(federation, tmp_path, nodes.runners["de-node"].address, cert_path, key_path)
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Relay(iter([peering_pb2.RelayRequest(relay_id="1", envelope=b"x")]), timeout=10))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "pins" in err.value.details()

    # The pinned certificate passes the same gate (and then the envelope itself is judged).
    fr = federation.paths.nodes["fr-node"]
    ok = _relay_stub(federation, tmp_path, nodes.runners["de-node"].address, fr.tls_cert, fr.tls_key)
    [resp] = list(ok.Relay(iter([peering_pb2.RelayRequest(relay_id="1", envelope=b"x")]), timeout=10))
    assert resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED and resp.error.code == 3  # INVALID_ARGUMENT


def test_envelope_whose_sender_has_no_access_right_is_refused_and_fails_at_the_sender(nodes: TwoNodes,
                                                                                      federation) -> None:
    # FR/POST signs a document type it may not send; fr-node is bypassed by relaying it ourselves as fr-node.
    from gateway.testing.federation import header
    h = header(FR_POST, [DE_CUSTOMS], document_type="swg.revenue.v1")
    sealed = envelope.seal(h, b"", federation.keys(FR_POST), federation.recipients([DE_CUSTOMS]))
    fr = federation.paths.nodes["fr-node"]
    stub = _relay_stub(federation, Path(), nodes.runners["de-node"].address, fr.tls_cert, fr.tls_key)
    [resp] = list(stub.Relay(iter([peering_pb2.RelayRequest(relay_id="7", envelope=sealed.data)]), timeout=10))
    assert resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED
    assert resp.error.code == 7 and "may not send swg.revenue.v1" in resp.error.message  # PERMISSION_DENIED
    assert nodes.runners["de-node"].node.store.count("messages") == 0


def test_sender_refuses_to_relay_to_a_peer_presenting_an_unpinned_certificate(nodes: TwoNodes, federation,
                                                                              tmp_path: Path) -> None:
    # de-node comes back serving a valid federation certificate for its own name, but not the pinned one.
    key = pki.new_key("ecdsa-p256")
    cert = pki.issue_certificate(federation.ca, key.public_key(), profile=pki.Profile.NODE_TLS, node="de-node")
    cert_path, key_path = pki.write_cert(tmp_path / "de-other.crt", cert), pki.write_key(tmp_path / "de-other.key", key)
    de = federation.paths.nodes["de-node"]
    runner = nodes.runners["de-node"]
    runner.stop()
    config = nodes.configs["de-node"]
    config.write_text(config.read_text().replace(f'cert = "{de.tls_cert}"', f'cert = "{cert_path}"')
                      .replace(f'key = "{de.tls_key}"', f'key = "{key_path}"'))
    runner.start()

    post = nodes.client("fr-node", FR_POST)
    message_id = submit_aed(post, aed_batch(1, start=31000000)).message_id
    error = wait_for(lambda: status(post, message_id).recipients[0].last_error or None)
    assert "pins" in error
    assert state_of(post, message_id) == S.DELIVERY_STATE_QUEUED
    assert runner.node.store.count("messages") == 0
