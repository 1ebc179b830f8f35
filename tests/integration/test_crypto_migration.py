"""A two-node federation moves from the classic crypto profile to hybrid-pq under continuous submits:
a directory with a transition window, then one whose window has closed; nothing is lost, envelopes sealed
after the move are hybrid-pq, and a classic envelope relayed after the window is refused."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import grpc

from gateway import envelope
from gateway.api.swg.v1 import envelope_pb2, exchange_pb2, peering_pb2, peering_pb2_grpc
from gateway.crypto import composite
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation, header
from gateway.testing.nodes import NodeRunner, connect, free_port, sign_directory, write_directory, write_node_config
from tests.support.two_nodes import FAST_RETRY, wait_for

FR_POST, DE_CUSTOMS = "FR/POST/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _directory(v1: str, version: int, start: dt.datetime, until: dt.datetime) -> str:
    return v1.replace("version = 1", f"version = {version}").replace('profile = "classic"', (
        f'profile = "hybrid-pq"\ntransition_from = {_iso(start)}\ntransition_until = {_iso(until)}'))


def _profile(runner: NodeRunner, message_id: str) -> str:
    stored = envelope_pb2.Envelope.FromString(runner.node.store.envelope(message_id))
    return envelope_pb2.EnvelopeHeader.FromString(stored.header).crypto_profile or envelope.CLASSIC


def test_federation_moves_to_hybrid_pq_under_load_with_nothing_lost(federation: Federation, tmp_path: Path) -> None:
    ports = {"de-node": free_port(), "fr-node": free_port()}
    path = write_directory(federation, tmp_path, ports)
    v1 = path.read_text()
    runners = {}
    for node, port in ports.items():
        config = write_node_config(federation, tmp_path, node, port, path, delivery=FAST_RETRY)
        config.write_text(config.read_text().replace("[node]\n", "[node]\ndirectory_poll_s = 0.05\n", 1))
        runners[node] = NodeRunner(config).start()
    fr, de = runners["fr-node"], runners["de-node"]
    post = connect(federation, "fr-node", fr.address, FR_POST)
    customs = connect(federation, "de-node", de.address, DE_CUSTOMS)
    submitted: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def submit_continuously() -> None:
        i = 0
        while not stop.is_set():
            batch = aed_batch(1, start=20000000 + i)
            try:
                resp = post.exchange.Submit(S.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString()),
                                            metadata=post.metadata, timeout=30)
            except grpc.RpcError as exc:  # any refused submit is a failure of the migration
                errors.append(exc)
                return
            submitted.append(resp.message_id)
            i += 1

    def delivered(ids: list[str]) -> bool:
        for mid in ids:
            st = post.exchange.GetStatus(S.GetStatusRequest(message_id=mid), metadata=post.metadata, timeout=10)
            if st.recipients[0].state not in (S.DELIVERY_STATE_DELIVERED, S.DELIVERY_STATE_ACKNOWLEDGED):
                return False
        return True

    worker = threading.Thread(target=submit_continuously, daemon=True)
    worker.start()
    try:
        wait_for(lambda: len(submitted) >= 5 or errors)
        assert {_profile(fr, m) for m in list(submitted)} == {envelope.CLASSIC}

        # Transition window: published to both nodes before it opens; hybrid is sent once it has.
        now = dt.datetime.now(dt.timezone.utc)
        sign_directory(federation, path, _directory(v1, 2, now + dt.timedelta(seconds=2), now + dt.timedelta(hours=1)))
        wait_for(lambda: all(r.node.directory.version == 2 for r in runners.values()))
        first_hybrid = wait_for(lambda: next((i for i, m in enumerate(list(submitted))
                                              if _profile(fr, m) == envelope.HYBRID_PQ), None) or errors)
        assert not errors, errors
        classic_ones = list(submitted[:first_hybrid])
        assert all(_profile(fr, m) == envelope.CLASSIC for m in classic_ones)
        # Every classic envelope is through before the window closes (docs/federation.md: the window must
        # outlast the queues).
        wait_for(lambda: delivered(classic_ones), timeout=60)

        # The window closes: classic is refused from now on; the federation runs hybrid-pq only.
        sign_directory(federation, path, _directory(v1, 3, now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)))
        wait_for(lambda: all(r.node.directory.version == 3 for r in runners.values()))
        after = len(submitted)
        wait_for(lambda: len(submitted) >= after + 5 or errors)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not errors, errors
    ids = list(submitted)
    assert all(_profile(fr, m) == envelope.HYBRID_PQ for m in ids[first_hybrid:])

    # Zero lost: every message reaches DE customs, once, and every receipt verifies offline.
    wait_for(lambda: delivered(ids), timeout=120)
    seen: set[str] = set()
    while seen != set(ids):  # at-least-once: a redelivery may repeat one, none may be missing
        batch_of = customs.receive(min(100, len(set(ids) - seen)), 60, format="swg.aed.v1", max_in_flight=256)
        customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in batch_of]),
                                     metadata=customs.metadata, timeout=30)
        seen |= {d.message_id for d in batch_of}
        assert seen <= set(ids)
    for mid in ids[first_hybrid:]:
        st = post.exchange.GetStatus(S.GetStatusRequest(message_id=mid), metadata=post.metadata, timeout=10)
        for r in st.recipients[0].receipts:
            assert composite.SEPARATOR in r.jws  # composite: classic + ML-DSA-65
            envelope.verify_receipt(r.jws, federation.trust, pq_keys=federation,
                                    policy=fr.node.view.crypto)

    # After the window a classic envelope (well signed by FR/POST) relayed as fr-node is refused.
    sealed = envelope.seal(header(FR_POST, [DE_CUSTOMS]), aed_batch(1, start=29000000).SerializeToString(),
                           federation.keys(FR_POST), federation.recipients([DE_CUSTOMS]))
    tls = federation.paths.nodes["fr-node"]
    creds = grpc.ssl_channel_credentials(root_certificates=federation.paths.ca_cert.read_bytes(),
                                         private_key=tls.tls_key.read_bytes(),
                                         certificate_chain=tls.tls_cert.read_bytes())
    with grpc.secure_channel(de.address, creds, options=[("grpc.ssl_target_name_override", "de-node")]) as ch:
        stub = peering_pb2_grpc.PeeringStub(ch)
        [resp] = list(stub.Relay(iter([peering_pb2.RelayRequest(relay_id="1", envelope=sealed.data)]), timeout=10))
    assert resp.outcome == peering_pb2.RELAY_OUTCOME_REJECTED
    assert "accepts only hybrid-pq" in resp.error.message
    post.close()
    customs.close()
    for r in runners.values():
        r.close()


def test_a_node_refuses_to_start_with_pq_keys_the_directory_does_not_bind(federation: Federation,
                                                                          tmp_path: Path) -> None:
    import pytest

    from gateway.errors import ConfigError
    from gateway.node import Node

    ports = {"de-node": free_port(), "fr-node": free_port()}
    path = write_directory(federation, tmp_path, ports)
    config = write_node_config(federation, tmp_path, "de-node", ports["de-node"], path)
    mine = federation.paths.participants["DE/POST/MAIN"].pq_signing_key
    other = federation.paths.participants["FR/POST/MAIN"].pq_signing_key
    config.write_text(config.read_text().replace(str(mine), str(other)))
    with pytest.raises(ConfigError) as exc:
        Node.load(config)
    assert any(p.field.endswith(".pq_signing_key") and "DE/POST/MAIN" in p.description for p in exc.value.problems)


def test_parts_of_a_split_document_are_sealed_under_the_federations_profile(federation: Federation,
                                                                             tmp_path: Path) -> None:
    """A document split per destination is sealed as several messages: each is hybrid-pq when the
    federation sends hybrid-pq, as the whole would be (after the window a classic part would be refused)."""
    ports = {"de-node": free_port(), "fr-node": free_port()}
    path = write_directory(federation, tmp_path, ports)
    now = dt.datetime.now(dt.timezone.utc)
    sign_directory(federation, path, _directory(path.read_text(), 2, now - dt.timedelta(days=1),
                                                now + dt.timedelta(days=30)))
    runner = NodeRunner(write_node_config(federation, tmp_path, "de-node", ports["de-node"], path)).start()
    post = connect(federation, "de-node", runner.address, "DE/POST/MAIN")
    try:
        batch = aed_batch(2, start=30_500_000, origin="DE", destination="DE")
        batch.items.extend(aed_batch(1, start=30_600_000, origin="DE", destination="FR").items)
        resp = post.exchange.Submit(S.SubmitRequest(format="swg.aed.v1", message_id="split-pq",
                                                    content=batch.SerializeToString()),
                                    metadata=post.metadata, timeout=60)
        parts = sorted({o.message_id for o in resp.items})
        assert parts == ["split-pq.to-DE", "split-pq.to-FR"], resp
        assert [_profile(runner, p) for p in parts] == [envelope.HYBRID_PQ, envelope.HYBRID_PQ]
    finally:
        post.close()
        runner.stop()
