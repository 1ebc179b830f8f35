"""Growth while a peer is down: messages for it pile up, `gateway db stats` (a separate process, as an operator
runs it) shows what grows, by how much per message, and the oldest delivery still waiting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support import tally

POST, FR_CUSTOMS = "DE/POST/MAIN", "FR/CUSTOMS/MAIN"
# docs/deploy.md, "Sizing": about 7.6 KB per one-item AED on SQLite; twice that is a regression, not noise.
MAX_BYTES_PER_MESSAGE = 16_000


def _stats(config: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "gateway", "db", "stats", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    total = re.search(r"^database\s+([\d,]+)", done.stdout, re.M)
    assert total, done.stdout
    return int(total[1].replace(",", "")), done.stdout


def test_messages_for_a_peer_that_is_down_are_shown_waiting_and_grow_the_database_linearly(
        federation: Federation, tmp_path: Path) -> None:
    de_port = free_port()
    # fr-node's port: nobody listens there (the peer is down)
    directory = write_directory(federation, tmp_path, {"de-node": de_port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", de_port, directory)
    runner = NodeRunner(config).start()
    post = connect(federation, "de-node", runner.address, POST)
    try:
        before, _ = _stats(config)
        ids = []
        for i in range(200):
            batch = aed_batch(1, start=71_000_000 + i, origin="DE", destination="FR")
            ids.append(post.exchange.Submit(exchange_pb2.SubmitRequest(
                format="swg.aed.v1", content=batch.SerializeToString()), metadata=post.metadata, timeout=30).message_id)
        tally.fault("peer down while messages pile up")
        after, out = _stats(config)
    finally:
        post.close()
        runner.close()
    assert f"unfinished deliveries: 200; oldest: message {ids[0]} to {FR_CUSTOMS} (route fr-node), QUEUED" in out, out
    assert re.search(r"^messages\s+20\d\b", out, re.M), out  # the 200, and a health probe's few at most
    per_message = (after - before) / len(ids)
    assert 0 < per_message < MAX_BYTES_PER_MESSAGE, f"{per_message:.0f} bytes per message\n{out}"
