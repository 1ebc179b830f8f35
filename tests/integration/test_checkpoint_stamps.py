"""Checkpoint time-stamps through a real node and a real (local, openssl) TSA: stamps verify with
``openssl ts -verify``; a TSA that is down or answers wrong never halts exchange or health, checkpoints
wait durably and visibly (Admin, CLI, /metrics) and are stamped oldest first once it answers right."""

from __future__ import annotations

import base64
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from gateway.cli import main as cli
from gateway.config import load_node_config
from gateway.errors import ConfigError
from gateway.node import Node
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import (
    NodeRunner, connect, free_port, write_client_profile, write_directory, write_node_config,
)
from tests.support.tsa import OPENSSL, LocalTsa
from tests.support.two_nodes import wait_for

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


class StampedNode:
    def __init__(self, fed: Federation, tmp: Path):
        self.tsa = LocalTsa(tmp / "tsa").start()
        port, self.metrics_port = free_port(), free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        cfg = write_node_config(fed, tmp, "de-node", port, directory)
        text = cfg.read_text().replace(f'listen = "127.0.0.1:{port}"\n',
                                       f'listen = "127.0.0.1:{port}"\nmetrics_listen = "127.0.0.1:{self.metrics_port}"\n')
        cfg.write_text(text + f"""
[audit]
checkpoint_every = 2
checkpoint_interval_s = 0.2
tsa_url = "{self.tsa.url}"
tsa_ca = "{self.tsa.ca}"
tsa_timeout_s = 2
tsa_retry_s = 0.1
""")
        self.runner = NodeRunner(cfg).start()
        self.post = connect(fed, "de-node", self.runner.address, POST)
        self.customs = connect(fed, "de-node", self.runner.address, CUSTOMS)
        self.profile = write_client_profile(fed, tmp, POST, self.runner.address, scopes=("admin",))
        self.next_item = 30000000

    def submit_and_deliver(self, count: int) -> None:
        """Submits are accepted and delivered whatever the TSA does."""
        ids = set()
        for _ in range(count):
            self.next_item += 10
            req = exchange_pb2.SubmitRequest(format="swg.aed.v1",
                                             content=aed_batch(1, start=self.next_item).SerializeToString())
            ids.add(self.post.exchange.Submit(req, metadata=self.post.metadata, timeout=30).message_id)
        got = self.customs.receive(count)
        assert {d.message_id for d in got} == ids
        self.customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=sorted(ids)),
                                          metadata=self.customs.metadata, timeout=30)

    def status(self) -> admin_pb2.GetAuditStatusResponse:
        stub = admin_pb2_grpc.AdminStub(self.post.channel)
        resp: admin_pb2.GetAuditStatusResponse = stub.GetAuditStatus(admin_pb2.GetAuditStatusRequest(),
                                                                    metadata=self.post.metadata, timeout=30)
        return resp

    def health(self) -> int:
        return int(health_pb2_grpc.HealthStub(self.post.channel).Check(health_pb2.HealthCheckRequest(),
                                                                       timeout=10).status)

    def metric(self, name: str) -> float:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[1])

    def caught_up(self) -> bool:
        """Every stored checkpoint is stamped (and there is at least one)."""
        store = self.runner.node.store
        cps = store.audit_checkpoints()
        return bool(cps) and self.status().waiting == 0 and store.checkpoint_stamp(cps[-1].seq) is not None

    def close(self) -> None:
        for c in (self.post, self.customs):
            c.close()
        self.runner.close()
        self.tsa.stop()


@pytest.fixture(scope="module")
def node(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StampedNode]:
    n = StampedNode(federation, tmp_path_factory.mktemp("stamps"))
    try:
        yield n
    finally:
        n.close()


def _payload(jws: str) -> bytes:
    part = jws.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_every_checkpoint_is_stamped_and_the_stamp_verifies_with_openssl(node: StampedNode, tmp_path: Path) -> None:
    node.submit_and_deliver(2)
    store = node.runner.node.store
    # The receive stream's entries are written without waiting, so one more checkpoint may follow: wait until
    # the status shows the newest checkpoint stamped and nothing waiting.
    st = wait_for(lambda: node.caught_up() and (s := node.status()).waiting == 0
                  and s.newest_stamped_checkpoint == store.audit_checkpoints()[-1].seq and s, timeout=30)
    cp = next(c for c in store.audit_checkpoints() if c.seq == st.newest_stamped_checkpoint)
    stamp = store.checkpoint_stamp(cp.seq)
    assert stamp is not None
    # What is stamped is exactly what the checkpoint's signature covers.
    assert stamp.signed == _payload(cp.jws)
    (tmp_path / "checkpoint.json").write_bytes(stamp.signed)
    (tmp_path / "stamp.tst").write_bytes(stamp.token)
    out = subprocess.run([OPENSSL, "ts", "-verify", "-data", str(tmp_path / "checkpoint.json"), "-in",
                          str(tmp_path / "stamp.tst"), "-token_in", "-CAfile", str(node.tsa.ca)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stdout + out.stderr
    assert st.timestamping_enabled and st.tsa_url == node.tsa.url and st.HasField("newest_stamp_time")
    assert st.newest_stamp_time.ToMicroseconds() == stamp.gen_time_us
    assert node.metric("swg_audit_stamps_waiting") == 0


def test_tsa_down_exchange_continues_stamps_wait_then_catch_up(node: StampedNode, capsys: Any) -> None:
    wait_for(node.caught_up, timeout=30)
    before = node.tsa.requests
    node.tsa.stop()
    try:
        # Traffic until at least two checkpoints wait (the checkpoint worker may cover several submits with one).
        wait_for(lambda: node.submit_and_deliver(2) or node.status().waiting >= 2, timeout=60)
        assert node.health() == health_pb2.HealthCheckResponse.SERVING
        st = node.status()
        assert "unavailable" in st.last_error and "not reachable" in st.last_error
        assert st.oldest_waiting_seconds > 0
        assert node.metric("swg_audit_stamps_waiting") >= 2
        assert cli(["audit", "status", "--client", str(node.profile)]) == 0
        out = capsys.readouterr().out
        assert f"time-stamping: {node.tsa.url}" in out and "waiting: " in out and "checkpoint(s), the oldest" in out
        assert "last error: unavailable" in out
    finally:
        node.tsa.start()
    wait_for(node.caught_up, timeout=30)
    assert node.tsa.requests > before
    # Oldest first: the TSA's times follow the checkpoints' order.
    store = node.runner.node.store
    stamps = [store.checkpoint_stamp(c.seq) for c in store.audit_checkpoints()]
    times = [s.gen_time_us for s in stamps if s is not None]
    assert len(times) == len(stamps) and times == sorted(times)
    assert cli(["audit", "status", "--client", str(node.profile)]) == 0
    assert "waiting: 0" in capsys.readouterr().out


@pytest.mark.parametrize(("mode", "reason"), [
    ("imprint", "message imprint is not the digest we asked to stamp"),
    ("signature", "signature does not verify"),
    ("untrusted", "does not chain to the configured"),
])
def test_a_wrong_answer_is_refused_and_the_checkpoint_keeps_waiting(node: StampedNode, mode: str,
                                                                   reason: str) -> None:
    wait_for(node.caught_up, timeout=30)
    store = node.runner.node.store
    node.tsa.mode = mode
    try:
        node.submit_and_deliver(2)
        wait_for(lambda: reason in node.status().last_error, timeout=30)
        waiting = store.waiting_stamps()
        assert waiting and all(store.checkpoint_stamp(w.checkpoint) is None for w in waiting)
        assert node.status().last_error.startswith("refused: ")
        assert node.health() == health_pb2.HealthCheckResponse.SERVING
    finally:
        node.tsa.mode = "ok"
    wait_for(node.caught_up, timeout=30)


def test_a_waiting_checkpoint_survives_a_restart(federation: Federation, tmp_path: Path) -> None:
    n = StampedNode(federation, tmp_path)
    try:
        n.tsa.stop()
        n.submit_and_deliver(2)
        wait_for(lambda: n.status().waiting >= 1, timeout=30)
        for c in (n.post, n.customs):
            c.close()
        n.runner.close()
        n.tsa.start()
        n.runner = NodeRunner(n.runner.config).start()
        n.post = connect(federation, "de-node", n.runner.address, POST)
        n.customs = connect(federation, "de-node", n.runner.address, CUSTOMS)
        wait_for(n.caught_up, timeout=30)
    finally:
        n.close()


def test_a_bad_tsa_config_fails_at_start_with_the_key_named(federation: Federation, tmp_path: Path,
                                                             capsys: Any) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    cfg = write_node_config(federation, tmp_path, "de-node", port, directory)
    base = cfg.read_text()
    cfg.write_text(base + '\n[audit]\ntsa_url = "http://127.0.0.1:1/tsa"\n')
    with pytest.raises(ConfigError, match="audit.tsa_ca: required with audit.tsa_url"):
        load_node_config(cfg)
    cfg.write_text(base + '\n[audit]\ntsa_url = "ftp://tsa.example"\ntsa_ca = "nope.pem"\ntsa_policy = "x.y"\n')
    with pytest.raises(ConfigError) as err:
        load_node_config(cfg)
    text = str(err.value)
    assert "audit.tsa_url" in text and "audit.tsa_ca: file not found" in text and "audit.tsa_policy" in text
    (tmp_path / "not-a-cert.pem").write_text("hello\n")
    cfg.write_text(base + '\n[audit]\ntsa_url = "http://127.0.0.1:1/tsa"\ntsa_ca = "not-a-cert.pem"\n')
    with pytest.raises(ConfigError, match="audit.tsa_ca: .*not-a-cert.pem"):
        Node.load(cfg)
    assert cli(["config", "check", str(cfg)]) == 2
    assert "audit.tsa_ca" in (err_text := capsys.readouterr().err) and "not a PEM certificate file" in err_text

