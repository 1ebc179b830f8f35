"""`[node] processes = 2`: one `gateway serve` supervisor, two worker processes on one port.

Real subprocesses, real mTLS, the suite's database backend. Connections are spread by the kernel
(SO_REUSEPORT); the structured log lines carry each worker's pid, which is how the test sees that both
workers accepted submissions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import Client, connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
# The kernel hands each connection to one worker by a hash: with 8, all on one worker happened in about
# one run of fifteen; with 16 it would take odds of 1 in 32,000 if the spread were fair.
CHANNELS = 16
PER_CHANNEL = 3
HELD = 6
DEADLINE_S = 60.0


class Supervised:
    """`gateway serve` of a node with several processes, its log lines parsed as JSON."""

    def __init__(self, config: Path, log: Path):
        self.log_path = log
        self.log = log.open("a")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once, when every worker serves
        if "listening on" not in line:
            raise AssertionError(f"node did not start: {line!r}\n{log.read_text()[-3000:]}")
        self.address = line.split("listening on ")[1].split()[0]

    def lines(self) -> Iterator[dict[str, object]]:
        for raw in self.log_path.read_text().splitlines():
            if raw.startswith("{"):
                yield json.loads(raw)

    def worker_pids(self) -> set[int]:
        return {int(str(e["pid"])) for e in self.lines() if e.get("event") == "worker serving"}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.log.close()
        return code


def own_connection(federation: Federation, address: str, participant: str) -> Client:
    """A client on its own TCP connection (gRPC would otherwise share one between equal channels)."""
    c = connect(federation, "de-node", address, participant)
    c.channel.close()
    pp = federation.paths.participants[participant]
    creds = grpc.ssl_channel_credentials(federation.paths.ca_cert.read_bytes(), pp.client_key.read_bytes(),
                                         pp.client_cert.read_bytes())
    return Client(participant, grpc.secure_channel(address, creds, options=[("grpc.use_local_subchannel_pool", 1)]),
                  c.token)


def submit(post: Client, n: int) -> str:
    mid = f"procs-{n:04d}"
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", message_id=mid,
                                     content=aed_batch(1, start=20_000_000 + n).SerializeToString())
    post.exchange.Submit(req, metadata=post.metadata, timeout=30)
    return mid


def receive(customs: Client, want: set[str], deadline: float, *, keep_open: list[Any] | None = None
            ) -> tuple[set[str], list[str]]:
    """Read deliveries until every id in ``want`` came at least once; returns (unique, all in order).

    With ``keep_open``, the stream is left open (appended there) so that the node keeps the leases: a
    cancelled stream would hand them back at once.
    """
    got: set[str] = set()
    order: list[str] = []
    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(max_in_flight=256), metadata=customs.metadata,
                                      timeout=max(1.0, deadline - time.monotonic()))
    try:
        for d in stream:
            order.append(d.message_id)
            got.add(d.message_id)
            if want <= got:
                break
    finally:
        if keep_open is None:
            stream.cancel()
        else:
            keep_open.append(stream)
    return got, order


def test_two_worker_processes_share_the_port_deliver_once_and_stop_cleanly(
        database_backend: str, federation: Federation, tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    # A long visibility timeout: a lease held at a crash comes back only through the release at start.
    config = write_node_config(federation, tmp_path, "de-node", port, directory, processes=2,
                               visibility_timeout_s=300)
    log = tmp_path / "node.log"
    deadline = time.monotonic() + DEADLINE_S
    node = Supervised(config, log)
    clients: list[Client] = []
    try:
        workers = node.worker_pids()
        assert len(workers) == 2 and node.proc.pid not in workers
        posts = [own_connection(federation, node.address, POST) for _ in range(CHANNELS)]
        clients += posts
        expected = {submit(posts[k], k * PER_CHANNEL + i) for i in range(PER_CHANNEL) for k in range(CHANNELS)}
        accepted_by = {int(str(e["pid"])) for e in node.lines() if e.get("event") == "accepted"}
        assert accepted_by == workers, f"accepted by {accepted_by}, workers {workers}"

        customs = own_connection(federation, node.address, CUSTOMS)
        clients.append(customs)
        got, _ = receive(customs, expected, deadline)
        assert got == expected
        customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=sorted(got)),
                                     metadata=customs.metadata, timeout=30)
        for mid in sorted(expected):
            status = posts[0].exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=mid),
                                                 metadata=posts[0].metadata, timeout=30)
            [rs] = status.recipients
            assert (rs.recipient, rs.state) == (CUSTOMS, exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED)
            assert [(r.recipient, bool(r.jws)) for r in rs.receipts] == [(CUSTOMS, True)], mid

        # Leases held when every process dies at once (no drain): SIGKILL the workers, then the supervisor.
        held = {submit(posts[0], 1000 + i) for i in range(HELD)}
        taker = own_connection(federation, node.address, CUSTOMS)
        clients.append(taker)
        open_streams: list[Any] = []
        taken, _ = receive(taker, held, deadline, keep_open=open_streams)
        assert taken == held
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        node.proc.kill()
        node.proc.wait(timeout=30)
        for stream in open_streams:
            stream.cancel()
        node.log.close()
        for c in clients:
            c.close()
        clients.clear()

        node = Supervised(config, log)
        released = [e for e in node.lines() if e.get("event") == "released leases of a previous run"]
        if database_backend == "sqlite":
            # Once, by the supervisor (no pid field), before any worker started.
            assert [(e.get("deliveries"), e.get("pid")) for e in released] == [(HELD, None)]
            customs = own_connection(federation, node.address, CUSTOMS)
            clients.append(customs)
            again, _ = receive(customs, held, deadline)
            assert again == held
            customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=sorted(held)),
                                         metadata=customs.metadata, timeout=30)
        else:
            # PostgreSQL nodes may have live replicas: nothing is released at start, leases run out instead.
            assert released == []
    finally:
        for c in clients:
            c.close()
        code = node.stop()
    assert code == 0
    # The killed first run logged no "node stopped"; the second: both workers drained, then the supervisor.
    stopped = [e.get("worker") for e in node.lines() if e.get("event") == "node stopped"]
    assert sorted(stopped, key=str) == [0, 1, None]


def test_processes_must_be_between_1_and_16(federation: Federation, tmp_path: Path) -> None:
    from gateway.config import load_node_config
    from gateway.errors import ConfigError

    directory = write_directory(federation, tmp_path, {"de-node": free_port(), "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", free_port(), directory)
    assert load_node_config(config).processes == 1
    text = config.read_text()
    for bad, reason in (("0", "must be >= 1"), ("17", "must be <= 16"), ('"2"', "must be an integer")):
        config.write_text(text.replace("processes = 1", f"processes = {bad}"))
        try:
            load_node_config(config)
        except ConfigError as exc:
            assert [(p.field, p.description) for p in exc.problems] == [("node.processes", reason)]
        else:
            raise AssertionError(f"processes = {bad} was accepted")
