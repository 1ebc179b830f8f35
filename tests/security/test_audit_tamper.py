"""Rewriting a node's audit history in its SQLite database, the way an operator with the file would: every
hash recomputed, the head row fixed, and the signed checkpoints that would betray the rewrite deleted.
`gateway audit verify` must refuse each such history, naming the first entry concerned, and pass an
untouched one. (A cut exactly at a checkpoint is beyond what the database alone can show: SECURITY.md.)"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.api.swg.v1 import exchange_pb2
from gateway.cli import main as cli
from gateway.evidence import audit
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support import tally
from tests.support.two_nodes import wait_for

POST = "DE/POST/MAIN"
INTERVAL_S = 0.2


@dataclass
class History:
    config: Path
    db: Path
    tmp: Path
    checkpoints: list[int]  # seqs, oldest first
    entries: int


def _rows(db: Path) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT seq, at_us, event, message_id, actor, subject, detail, prev_hash, entry_hash "
                            "FROM audit_log ORDER BY seq").fetchall()


@pytest.fixture(scope="module")
def history(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """A real node run in three waves of submits, each covered by a checkpoint, stopped cleanly; then left
    until every entry is older than the checkpoint cadence allows an uncovered entry to be."""
    tmp = tmp_path_factory.mktemp("audit-tamper")
    port = free_port()
    directory = write_directory(federation, tmp, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp, "de-node", port, directory)
    config.write_text(config.read_text() + f"\n[audit]\ncheckpoint_every = 1000\ncheckpoint_interval_s = {INTERVAL_S}\n")
    runner = NodeRunner(config).start()
    post = connect(federation, "de-node", runner.address, POST)
    try:
        store = runner.node.store
        for wave in range(3):
            for i in range(2):
                req = exchange_pb2.SubmitRequest(format="swg.aed.v1",
                                                 content=aed_batch(1, start=60_000_000 + 10 * wave + i).SerializeToString())
                post.exchange.Submit(req, metadata=post.metadata, timeout=30)
            head = store.audit_head()
            assert head is not None
            wait_for(lambda: (cp := store.last_checkpoint()) is not None and cp.seq >= head[0])
    finally:
        post.close()
        runner.close()
    db = tmp / "de-node.db"
    with sqlite3.connect(db) as conn:
        cps = [r[0] for r in conn.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]
    rows = _rows(db)
    assert len(cps) >= 3 and cps[-1] == rows[-1][0]
    limit_us = audit.checkpoint_deadline_s(INTERVAL_S) * 1_000_000
    wait_for(lambda: time.time_ns() // 1000 - rows[-1][1] > limit_us + 100_000, timeout=10)
    yield History(config, db, tmp, cps, len(rows))


def _verify(h: History, db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    cfg = h.tmp / "tampered.toml"
    cfg.write_text(h.config.read_text().replace(str(h.db), str(db)))
    code = cli(["audit", "verify", "--config", str(cfg)])
    return code, capsys.readouterr().out


def _rehash_from(rows: list[tuple], first: int, edit: dict[int, str]) -> list[tuple[str, tuple]]:  # type: ignore[type-arg]
    """SQL that rewrites the actor of the entries in ``edit`` and recomputes every hash from ``first`` on,
    the head row included: a chain that is consistent in itself."""
    sql: list[tuple[str, tuple]] = []  # type: ignore[type-arg]
    prev = audit.GENESIS if first == 1 else bytes(rows[first - 2][8])
    for seq, at_us, event, mid, actor, subject, detail, _, _ in rows[first - 1:]:
        actor = edit.get(seq, actor)
        h = audit.entry_hash(seq, at_us, event, mid, actor, subject, detail, prev)
        sql.append(("UPDATE audit_log SET actor = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?", (actor, prev, h, seq)))
        prev = h
    sql.append(("UPDATE audit_head SET seq = ?, entry_hash = ?", (rows[-1][0], prev)))
    return sql


def _tampered(h: History, sql: list[tuple[str, tuple]]) -> Path:  # type: ignore[type-arg]
    db = h.tmp / "tampered.db"
    shutil.copy(h.db, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        for stmt, params in sql:
            conn.execute(stmt, params)
    return db


def _refused(code: int, out: str, expect: str) -> None:
    refused = code == 1 and out.startswith(expect)
    tally.attack("audit history", refused)
    assert refused, (code, out)


def test_an_untouched_node_history_verifies(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(history, history.db, capsys)
    assert code == 0, out
    assert out.startswith(f"OK: {history.entries} entries, {len(history.checkpoints)} signed checkpoint(s)"), out
    assert "warning" not in out


def test_edit_and_rehash_after_deleting_the_later_checkpoints_is_refused(history: History,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(history.db)
    kept = history.checkpoints[0]
    target = kept + 1  # the first entry of the second wave: only checkpoints after it could betray the edit
    sql = _rehash_from(rows, target, {target: "DE/TAX/MAIN"})
    sql.append(("DELETE FROM audit_checkpoints WHERE seq > ?", (kept,)))
    code, out = _verify(history, _tampered(history, sql), capsys)
    _refused(code, out, f"BROKEN at entry {target}: entries {target}..{history.entries} are covered by no signed "
                        f"checkpoint")
    assert f"the last signed checkpoint is at entry {kept}" in out


def test_cutting_the_tail_and_its_checkpoints_is_refused(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(history.db)
    kept = history.checkpoints[0]
    end = kept + 1  # the attacker keeps one entry past the checkpoint and removes everything after it
    sql: list[tuple[str, tuple]] = [  # type: ignore[type-arg]
        ("DELETE FROM audit_log WHERE seq > ?", (end,)),
        ("DELETE FROM audit_checkpoints WHERE seq > ?", (kept,)),
        ("UPDATE audit_head SET seq = ?, entry_hash = ?", (end, bytes(rows[end - 1][8]))),
    ]
    code, out = _verify(history, _tampered(history, sql), capsys)
    _refused(code, out, f"BROKEN at entry {end}: entries {end}..{end} are covered by no signed checkpoint")


def test_rewriting_the_history_from_the_start_without_its_checkpoints_is_refused(
        history: History, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(history.db)
    sql = _rehash_from(rows, 1, {seq: "DE/TAX/MAIN" for seq, *_ in rows if seq % 2})
    sql.append(("DELETE FROM audit_checkpoints", ()))
    code, out = _verify(history, _tampered(history, sql), capsys)
    _refused(code, out, f"BROKEN at entry 1: entries 1..{history.entries} are covered by no signed checkpoint")
    assert "there is no signed checkpoint at all" in out


def test_deleting_a_checkpoint_in_the_middle_is_refused(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    first, middle = history.checkpoints[0], history.checkpoints[1]
    code, out = _verify(history, _tampered(history, [("DELETE FROM audit_checkpoints WHERE seq = ?", (middle,))]),
                        capsys)
    _refused(code, out, f"BROKEN at entry {first + 1}: checkpoint at entry {history.checkpoints[2]} signs entry "
                        f"{middle} as the previous checkpoint, which is missing")


def test_deleting_the_first_checkpoint_is_refused(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    first = history.checkpoints[0]
    code, out = _verify(history, _tampered(history, [("DELETE FROM audit_checkpoints WHERE seq = ?", (first,))]),
                        capsys)
    _refused(code, out, f"BROKEN at entry 1: checkpoint at entry {history.checkpoints[1]} signs entry {first} "
                        "as the previous checkpoint, which is missing")
