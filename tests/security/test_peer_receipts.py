"""A peer node that lies in its answers: what de-node takes back from fr-node when it relays a message.

The test plays fr-node's Peering server itself, with fr-node's TLS certificate and the keys of the participants
fr-node hosts, so every receipt it answers with is well signed by the message's real recipient. What the
receipt says beyond that is the lie: another issuing node, another message. de-node must not record such a
receipt as evidence of delivery; the delivery stays queued and is offered again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from gateway import envelope
from gateway.api.swg.v1 import envelope_pb2, exchange_pb2, peering_pb2, peering_pb2_grpc
from gateway.encoding import sha256
from gateway.store.states import DELIVERED, IN_FLIGHT, QUEUED
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support import tally
from tests.support.two_nodes import wait_for

POST = "DE/POST/MAIN"


class AnsweringPeer(peering_pb2_grpc.PeeringServicer):
    """fr-node's Relay: every envelope is answered ACCEPTED with receipts its recipients sign, saying ``lie``."""

    def __init__(self, fed: Federation, lie: dict[str, Any]):
        self.fed, self.lie = fed, lie
        self.relayed: list[str] = []

    def Relay(self, request_iterator: Iterator[peering_pb2.RelayRequest], context: Any) -> Iterator[Any]:
        for req in request_iterator:
            h = envelope_pb2.EnvelopeHeader.FromString(envelope_pb2.Envelope.FromString(req.envelope).header)
            self.relayed.append(h.message_id)
            fields = {"message_id": h.message_id, "envelope_sha256": sha256(req.envelope),
                      "issuing_node": "fr-node"} | self.lie
            receipts = [envelope.issue_receipt(recipient=self.fed.keys(r), **fields)
                        for r in h.recipients if r.startswith("FR/")]
            yield peering_pb2.RelayResponse(relay_id=req.relay_id, message_id=h.message_id,
                                            outcome=peering_pb2.RELAY_OUTCOME_ACCEPTED, receipts=receipts)


def _delivery(db: Path, message_id: str) -> tuple[int, int, str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("select state, attempts, last_error from deliveries where message_id = ?",
                           (message_id,)).fetchone()
        return (int(row[0]), int(row[1]), str(row[2] or ""))
    finally:
        conn.close()


@pytest.mark.parametrize(("lie", "refused"), [
    ({}, ""),  # the honest answer: the control that shows the test can tell the difference
    ({"issuing_node": "xx-node"}, "names issuing node 'xx-node', not fr-node"),
    ({"issuing_node": "de-node"}, "names issuing node 'de-node', not fr-node"),
    ({"message_id": "another-message"}, "does not match what was sent"),
], ids=["honest", "other-issuing-node", "sender-as-issuing-node", "other-message"])
def test_receipts_a_peer_answers_with_must_be_its_own_for_the_message_sent(
        federation: Federation, tmp_path: Path, lie: dict[str, Any], refused: str) -> None:
    fed = federation
    de_port, fr_port = free_port(), free_port()
    directory = write_directory(fed, tmp_path, {"de-node": de_port, "fr-node": fr_port})
    peer = AnsweringPeer(fed, lie)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    peering_pb2_grpc.add_PeeringServicer_to_server(peer, server)
    fr = fed.paths.nodes["fr-node"]
    creds = grpc.ssl_server_credentials([(fr.tls_key.read_bytes(), fr.tls_cert.read_bytes())],
                                        root_certificates=fed.paths.ca_cert.read_bytes(),
                                        require_client_auth=True)
    server.add_secure_port(f"127.0.0.1:{fr_port}", creds)
    server.start()
    runner = NodeRunner(write_node_config(fed, tmp_path, "de-node", de_port, directory)).start()
    post = connect(fed, "de-node", runner.address, POST)
    try:
        resp = post.exchange.Submit(exchange_pb2.SubmitRequest(
            format="swg.aed.v1", message_id="to-fr-1",
            content=aed_batch(1, origin="DE", destination="FR", start=71_000_000).SerializeToString()),
            metadata=post.metadata, timeout=30)
        assert list(resp.recipients) == ["FR/CUSTOMS/MAIN"]
        db = tmp_path / "de-node.db"
        if not refused:
            wait_for(lambda: _delivery(db, "to-fr-1")[0] == DELIVERED)
            return
        # Offered twice means the first answer was read and refused: no receipt was taken from it.
        wait_for(lambda: len(peer.relayed) >= 2, timeout=60)
        state, _, error = _delivery(db, "to-fr-1")
        # (Queued for its next try, or already in flight again: never delivered on a receipt not taken.)
        ok = state in (QUEUED, IN_FLIGHT) and refused in error
        tally.attack("peer answers", ok)
        assert ok, (state, error)
        status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="to-fr-1"),
                                         metadata=post.metadata, timeout=10)
        assert [list(r.receipts) for r in status.recipients] == [[]]
    finally:
        post.close()
        runner.stop()
        server.stop(0)
