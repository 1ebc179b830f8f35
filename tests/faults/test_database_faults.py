"""The database locked by another process, and the database full: clear refusals, nothing half-stored, recovery."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.api.swg.v1 import exchange_pb2
from tests.support import tally
from tests.support.two_nodes import wait_for
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def node_config(fed: Federation, tmp: Path, database: str) -> Path:
    port = free_port()
    directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(fed, tmp, "de-node", port, directory)
    config.write_text(config.read_text().replace("[database]\n", f"[database]\n{database}\n", 1))
    return config


def counts(db_path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return tuple(db.execute(f"select count(*) from {t}").fetchone()[0]  # type: ignore[return-value]
                     for t in ("messages", "deliveries", "message_items"))
    finally:
        db.close()


def submit(client, n_items: int = 1, start: int = 10_000_000):  # type: ignore[no-untyped-def]
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(n_items, start=start).SerializeToString())
    return client.exchange.Submit(req, metadata=client.metadata, timeout=20)


def serving(client) -> bool:  # type: ignore[no-untyped-def]
    st = health_pb2_grpc.HealthStub(client.channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return st.status == health_pb2.HealthCheckResponse.SERVING


def test_database_locked_by_another_process_refuses_unavailable_then_recovers(federation: Federation,
                                                                            tmp_path: Path) -> None:
    # A short busy timeout: with the default 30 s the caller would wait that long before hearing anything.
    runner = NodeRunner(node_config(federation, tmp_path, "busy_timeout_ms = 300")).start()
    post = connect(federation, "de-node", runner.address, POST)
    db = tmp_path / "de-node.db"
    try:
        submit(post, start=20_000_000)
        before = counts(db)
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            tally.fault("database locked")
            for i in range(3):
                try:
                    submit(post, start=20_000_100 + i)
                    raise AssertionError("accepted while the database is locked")
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE, err.details()
                    assert "database unavailable" in err.details()
            assert counts(db) == before
        finally:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=10)
        resp = submit(post, start=20_000_200)
        assert list(resp.recipients) == [CUSTOMS]
        assert counts(db) == (before[0] + 1, before[1] + 1, before[2] + 1)
        assert serving(post)
    finally:
        post.close()
        runner.close()


def test_storage_full_refuses_resource_exhausted_nothing_half_stored_and_recovers(federation: Federation,
                                                                                  tmp_path: Path) -> None:
    db = tmp_path / "de-node.db"
    # First run makes the schema; the cap then leaves room for a few messages only.
    first = NodeRunner(node_config(federation, tmp_path, "")).start()
    first.close()
    pages = sqlite3.connect(db).execute("pragma page_count").fetchone()[0]
    runner = NodeRunner(node_config(federation, tmp_path, f"max_pages = {pages + 40}")).start()
    post = connect(federation, "de-node", runner.address, POST)
    accepted: list[str] = []
    try:
        refused = None
        for i in range(200):
            before = counts(db)
            try:
                accepted.append(submit(post, n_items=20, start=30_000_000 + 100 * i).message_id)
            except grpc.RpcError as err:
                refused = err
                break
        assert refused is not None, "the capped database never filled up"
        tally.fault("storage full")
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.details()
        assert refused.details() == "message not accepted: disk full on the node; retry later"
        assert counts(db) == before  # nothing of the refused message: no message, delivery or item row
        assert len(accepted) >= 1
        # Reads still work, writes do not: health says so (tests/faults/test_full_disk.py for a real disk).
        wait_for(lambda: not serving(post))
    finally:
        post.close()
        runner.close()
    # Space frees up (the cap is raised): the node accepts again and still has everything it accepted.
    runner = NodeRunner(node_config(federation, tmp_path, f"max_pages = {pages + 100_000}")).start()
    post, customs = (connect(federation, "de-node", runner.address, p) for p in (POST, CUSTOMS))
    try:
        accepted.append(submit(post, n_items=20, start=40_000_000).message_id)
        stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=60)
        got: set[str] = set()
        for d in stream:
            got.add(d.message_id)
            if got >= set(accepted):
                break
        stream.cancel()
        assert got == set(accepted)
        tally.messages(accepted=len(accepted), delivered=len(got), lost=len(set(accepted) - got))
    finally:
        post.close()
        customs.close()
        runner.close()
