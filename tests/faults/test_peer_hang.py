"""A receiving node that hangs (SIGSTOP): its TCP connections stay open, it just answers nothing.

The sending node must report the hung link within ``[peering] hang_timeout_s`` (log line "peer link
down" with the reason, ``swg_peer_link_up`` 0, ``last_error`` and ``next_attempt_at`` in GetStatus of the
waiting messages), and the link must recover by itself, whether the peer resumes (SIGCONT) or is killed
(kill -9) and restarted: every message relayed once, with its delivered and acknowledged receipts.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import connect, free_port, write_directory
from tests.support import tally
from tests.support.processes import NodeProcess, audited, node_config
from tests.support.two_nodes import wait_for

FR_POST, DE_CUSTOMS = "FR/POST/MAIN", "DE/CUSTOMS/MAIN"
S = exchange_pb2
N = 30


def start_two_nodes(federation: Federation, tmp_path: Path) -> tuple[dict[str, int], dict[str, NodeProcess]]:
    """de-node and fr-node as processes with a 1 s hang timeout; their ports and processes."""
    ports = {"de-node": free_port(), "fr-node": free_port()}
    directory = write_directory(federation, tmp_path, ports)
    nodes = {}
    for name, port in ports.items():
        metrics = free_port()
        config = node_config(federation, tmp_path, name, port, directory, metrics_port=metrics, hang_timeout_s=1)
        nodes[name] = NodeProcess(config, tmp_path / f"{name}.log", metrics).start()
    return ports, nodes


@pytest.mark.parametrize("ending", ["SIGCONT", "kill -9 and restart"])
def test_a_hung_peer_is_reported_and_its_link_recovers(federation: Federation, tmp_path: Path, ending: str) -> None:
    ports, nodes = start_two_nodes(federation, tmp_path)
    fr, de = nodes["fr-node"], nodes["de-node"]
    post = connect(federation, "fr-node", f"127.0.0.1:{ports['fr-node']}", FR_POST)
    customs = connect(federation, "de-node", f"127.0.0.1:{ports['de-node']}", DE_CUSTOMS)

    def status(mid: str) -> S.RecipientStatus:
        return post.exchange.GetStatus(S.GetStatusRequest(message_id=mid), metadata=post.metadata,
                                       timeout=10).recipients[0]

    def submit(i: int) -> str:
        req = S.SubmitRequest(format="swg.aed.v1", content=aed_batch(1, start=32_000_000 + i).SerializeToString())
        return str(post.exchange.Submit(req, metadata=post.metadata, timeout=30).message_id)

    def link_up() -> float | None:
        return fr.metric("swg_peer_link_up", peer="de-node")

    try:
        warm = submit(0)
        wait_for(lambda: status(warm).state == S.DELIVERY_STATE_DELIVERED)
        wait_for(lambda: link_up() == 1)

        de.signal(signal.SIGSTOP)
        ids = [submit(i) for i in range(1, N + 1)]
        [first, *_] = wait_for(lambda: fr.events("peer link down"))
        assert first["peer"] == "de-node" and "de-node" in first["reason"], first
        wait_for(lambda: link_up() == 0)
        # Each waiting message says why it waits and when the next attempt is.
        for m in ids:
            wait_for(lambda: (s := status(m)).state == S.DELIVERY_STATE_QUEUED and "de-node" in s.last_error
                     and s.HasField("next_attempt_at"))

        if ending == "SIGCONT":
            de.signal(signal.SIGCONT)
        else:
            de.kill9()
            de.start()
        wait_for(lambda: all(status(m).state == S.DELIVERY_STATE_DELIVERED for m in ids), timeout=60)
        wait_for(lambda: link_up() == 1)
        assert fr.events("peer link up")

        got: list[str] = []
        while len(got) < N:
            batch = customs.receive(N - len(got), timeout=60, format="swg.aed.v1", max_in_flight=64)
            customs.exchange.Acknowledge(S.AcknowledgeRequest(message_ids=[d.message_id for d in batch]),
                                         metadata=customs.metadata, timeout=10)
            got += [d.message_id for d in batch if d.message_id != warm]
        assert sorted(got) == sorted(ids)
        wait_for(lambda: all(status(m).state == S.DELIVERY_STATE_ACKNOWLEDGED and len(status(m).receipts) == 2
                             for m in ids), timeout=60)
    finally:
        post.close()
        customs.close()
        de.stop()
        fr.stop()
    relayed = audited(f"sqlite:///{tmp_path / 'fr-node.db'}", "relayed")
    assert set(ids) <= set(relayed)
    tally.messages(accepted=N, delivered=len(set(got) & set(ids)))


def test_a_peer_hung_under_an_idle_link_is_reported_by_keepalive(federation: Federation, tmp_path: Path) -> None:
    ports, nodes = start_two_nodes(federation, tmp_path)
    fr, de = nodes["fr-node"], nodes["de-node"]
    post = connect(federation, "fr-node", f"127.0.0.1:{ports['fr-node']}", FR_POST)

    def delivered(i: int) -> bool:
        req = S.SubmitRequest(format="swg.aed.v1", content=aed_batch(1, start=33_000_000 + i).SerializeToString())
        mid = post.exchange.Submit(req, metadata=post.metadata, timeout=30).message_id
        return bool(wait_for(lambda: post.exchange.GetStatus(S.GetStatusRequest(message_id=mid), metadata=post.metadata,
                                                             timeout=10).recipients[0].state
                             == S.DELIVERY_STATE_DELIVERED))

    try:
        assert delivered(0)
        wait_for(lambda: fr.metric("swg_peer_link_up", peer="de-node") == 1)
        # Nothing more to send: only the channel's keepalive pings can notice that the peer hangs.
        de.signal(signal.SIGSTOP)
        [first, *_] = wait_for(lambda: fr.events("peer link down"))
        assert first["peer"] == "de-node" and "de-node" in first["reason"], first
        assert fr.metric("swg_peer_link_up", peer="de-node") == 0
        de.signal(signal.SIGCONT)
        assert delivered(1)
        wait_for(lambda: fr.metric("swg_peer_link_up", peer="de-node") == 1)
    finally:
        post.close()
        de.stop()
        fr.stop()
