"""kill -9 of a node process under a load of concurrent submits and deliveries, then a restart.

Every submit that got an answer must be delivered after the restart; after deduplication by message id
nothing is delivered twice, and nothing acknowledged before the crash comes back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import grpc

from gateway.api.swg.v1 import exchange_pb2
from tests.support import tally
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
ROOT = Path(__file__).resolve().parents[2]
SUBMITTERS = 4
KILL_AFTER = 60  # answered submits before the kill


def start_node(config: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "gateway node listening on HOST:PORT (...)"; pytest-timeout guards it
    assert "listening on" in line, line
    return proc, line.split("listening on ", 1)[1].split()[0]


class Load:
    """Concurrent submitters and one receiving, acknowledging customs application."""

    def __init__(self, fed: Federation, address: str):
        self.fed, self.address = fed, address
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answered: set[str] = set()
        self.tried: set[str] = set()
        self.delivered: Counter[str] = Counter()
        self.acked: set[str] = set()

    def submitter(self, n: int) -> None:
        post = connect(self.fed, "de-node", self.address, POST)
        i = 0
        while not self.stop.is_set():
            mid = f"kill9-{n}-{i}"
            req = exchange_pb2.SubmitRequest(format="swg.aed.v1", message_id=mid,
                                             content=aed_batch(1, start=50_000_000 + n * 100_000 + i).SerializeToString())
            with self.lock:
                self.tried.add(mid)
            try:
                post.exchange.Submit(req, metadata=post.metadata, timeout=10)
            except grpc.RpcError:
                break  # the node is gone
            with self.lock:
                self.answered.add(mid)
            i += 1
        post.close()

    def receiver(self, address: str, until: set[str] | None = None) -> None:
        """Receive and acknowledge; with ``until``, stop once all of those were delivered."""
        customs = connect(self.fed, "de-node", address, CUSTOMS)
        try:
            stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(max_in_flight=16),
                                              metadata=customs.metadata, timeout=120)
            for d in stream:
                with self.lock:
                    self.delivered[d.message_id] += 1
                try:
                    customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[d.message_id]),
                                                 metadata=customs.metadata, timeout=10)
                except grpc.RpcError:
                    break
                with self.lock:
                    self.acked.add(d.message_id)
                    if until is not None and until <= set(self.delivered):
                        break
            stream.cancel()
        except grpc.RpcError:
            pass  # the node was killed under the stream
        finally:
            customs.close()


def test_kill_9_under_load_loses_nothing_that_was_answered(federation: Federation, tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory)
    proc, address = start_node(config)
    load = Load(federation, address)
    threads = [threading.Thread(target=load.submitter, args=(n,)) for n in range(SUBMITTERS)]
    threads.append(threading.Thread(target=load.receiver, args=(address,)))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(load.answered) < KILL_AFTER and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)  # polling a condition, not synchronising on time
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    tally.fault("kill -9")
    load.stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(load.answered) >= KILL_AFTER
    acked_before = set(load.acked)
    delivered_before = Counter(load.delivered)

    proc, address = start_node(config)
    try:
        rest = threading.Thread(target=load.receiver, args=(address, set(load.answered)))
        rest.start()
        rest.join(timeout=120)
        assert not rest.is_alive(), "not every answered submit was delivered after the restart"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    delivered = set(load.delivered)
    lost = load.answered - delivered
    after = load.delivered - delivered_before
    redelivered = sum(load.delivered.values()) - len(delivered)
    tally.messages(accepted=len(load.answered), delivered=len(delivered & load.answered), lost=len(lost),
                   redelivered=redelivered)
    assert not lost
    assert delivered <= load.tried  # nothing delivered that nobody sent
    assert not (acked_before & set(after)), "a message acknowledged before the crash was delivered again"
