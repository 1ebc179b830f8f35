"""The receiving node stores a relayed batch, its application acknowledges, and the node is killed (kill -9)
before the sending node has read the relay answers: the acknowledged receipts come home first.

docs/federation.md promises both receipts: after the restart every message must have, on the sending
node, its "delivered" receipt, its "acknowledged" receipt and its ``relayed`` audit entry.
"""

from __future__ import annotations

from pathlib import Path

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import connect, free_port, write_directory
from tests.support import tally
from tests.support.processes import HoldingRelay, NodeProcess, audited, node_config, receipt_kinds
from tests.support.two_nodes import wait_for

FR_POST, DE_CUSTOMS = "FR/POST/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2
N = 40


def test_answers_lost_in_a_kill_9_still_bring_every_delivered_receipt_home(federation: Federation,
                                                                           tmp_path: Path) -> None:
    de_port, relay_port, fr_port = free_port(), free_port(), free_port()
    # fr-node reaches de-node through the relay; de-node sends its acknowledged receipts straight back.
    directory = write_directory(federation, tmp_path, {"de-node": relay_port, "fr-node": fr_port})
    relay = HoldingRelay(relay_port, de_port)
    nodes = {}
    for name, port in (("fr-node", fr_port), ("de-node", de_port)):
        metrics = free_port()
        config = node_config(federation, tmp_path, name, port, directory, metrics_port=metrics, hang_timeout_s=2)
        nodes[name] = NodeProcess(config, tmp_path / f"{name}.log", metrics).start()
    fr, de = nodes["fr-node"], nodes["de-node"]
    fr_db = f"sqlite:///{tmp_path / 'fr-node.db'}"
    post = connect(federation, "fr-node", f"127.0.0.1:{fr_port}", FR_POST)
    customs = connect(federation, "de-node", f"127.0.0.1:{de_port}", DE_CUSTOMS)

    def status(mid: str) -> S.RecipientStatus:
        return post.exchange.GetStatus(S.GetStatusRequest(message_id=mid), metadata=post.metadata,
                                       timeout=10).recipients[0]

    def submit(i: int) -> str:
        req = S.SubmitRequest(format="swg.aed.v1", content=aed_batch(1, start=31_000_000 + i).SerializeToString())
        return str(post.exchange.Submit(req, metadata=post.metadata, timeout=30).message_id)

    try:
        warm = submit(0)
        wait_for(lambda: status(warm).state == S.DELIVERY_STATE_DELIVERED)
        customs.receive(1, timeout=30)
        customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[warm]), metadata=customs.metadata,
                                     timeout=10)

        # fr-node cannot reach de-node while the messages are submitted, so that they go in one batch...
        relay.refuse()
        ids = [submit(i) for i in range(1, N + 1)]
        wait_for(lambda: all(status(m).last_error for m in ids))
        # ...whose answers are lost: de-node stores them, and its application takes and acknowledges each.
        relay.hold(after_bytes=30_000)
        got: list[str] = []
        while len(got) < N:
            batch = customs.receive(N - len(got), timeout=60, format="swg.aed.v1", max_in_flight=64)
            customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in batch]),
                                         metadata=customs.metadata, timeout=10)
            got += [d.message_id for d in batch]
        assert set(got) == set(ids)
        de.kill9()
        relay.hold(None)
        de.start()

        def complete() -> list[str]:
            kinds = receipt_kinds(fr_db)
            return [m for m in ids if kinds.get(m) != {"delivered", "acknowledged"}]
        wait_for(lambda: complete() == [], timeout=90)
        assert all(status(m).state == S.DELIVERY_STATE_ACKNOWLEDGED for m in ids)
        relayed = audited(fr_db, "relayed")
        assert set(ids) <= set(relayed), "a message has no relayed audit entry on the sending node"
        assert all(len(status(m).receipts) == 2 for m in ids)
    finally:
        post.close()
        customs.close()
        de.stop()
        fr.stop()
        relay.close()
    tally.messages(accepted=N, delivered=N)
