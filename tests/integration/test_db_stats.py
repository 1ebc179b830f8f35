"""`gateway db stats`: rows and bytes per table of a real node's database, and its oldest unfinished delivery
(SQLite and PostgreSQL, by the suite's backend parametrisation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.api.swg.v1 import exchange_pb2
from gateway.cli import main as cli
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
ROW = re.compile(r"^(\w+)\s+([\d,]+)\s+([\d,]+|-)$")


def _stats(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, tuple[int, int | None]], str]:
    capsys.readouterr()  # the running node logs to the same stdout: keep only what the command prints
    code = cli(["db", "stats", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    tables: dict[str, tuple[int, int | None]] = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            tables[m[1]] = (int(m[2].replace(",", "")), None if m[3] == "-" else int(m[3].replace(",", "")))
    return tables, out


def test_db_stats_shows_rows_bytes_and_the_oldest_unfinished_delivery(federation: Federation, tmp_path: Path,
                                                                     database_backend: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory)
    runner = NodeRunner(config).start()
    post, customs = (connect(federation, "de-node", runner.address, p) for p in (POST, CUSTOMS))
    try:
        before, out = _stats(config, capsys)
        method = "dbstat" if database_backend == "sqlite" else "pg_total_relation_size"
        assert f"{database_backend} database, bytes by {method}" in out.splitlines(), out
        assert "unfinished deliveries: 0" in out
        ids = []
        for i in range(20):
            req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(5, start=80_000_000 + 10 * i)
                                             .SerializeToString())
            ids.append(post.exchange.Submit(req, metadata=post.metadata, timeout=30).message_id)
        got = customs.receive(8)
        assert [d.message_id for d in got] == ids[:8]  # handed out in the order they were accepted
        customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=ids[:8]), metadata=customs.metadata,
                                     timeout=30)
        after, out = _stats(config, capsys)
    finally:
        post.close()
        customs.close()
        runner.close()
    assert after["messages"][0] == before["messages"][0] + 20
    assert after["deliveries"][0] == before["deliveries"][0] + 20
    assert after["message_items"][0] == before["message_items"][0] + 100
    assert after["receipts"][0] >= before["receipts"][0] + 8
    for table in ("messages", "audit_log"):  # sealed envelopes and ~40 entries: more pages, on either database
        grew_from, grew_to = before[table][1], after[table][1]
        assert grew_from is not None and grew_to is not None and grew_to > grew_from, (table, before[table], after[table])
    assert f"unfinished deliveries: 12; oldest: message {ids[8]} to {CUSTOMS} (route local), QUEUED" in out, out
    assert re.search(r"^database\s+[\d,]+", out, re.M), out
