"""Evidence end to end: audit tampering is detected, exported bundles verify offline with only the CA
certificate (and fail when altered), Admin answers, /metrics counts what happened."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import math
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.evidence import audit
from gateway.evidence import bundle as evidence
from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from gateway.cli import main as cli
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation
from tests.support.rfc9162 import rfc_mth, rfc_verify_inclusion

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
ROOT = Path(__file__).resolve().parents[2]


class EvidenceNode:
    def __init__(self, fed: Federation, tmp: Path):
        self.fed, self.tmp = fed, tmp
        port, self.metrics_port = free_port(), free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        cfg = write_node_config(fed, tmp, "de-node", port, directory)
        text = cfg.read_text().replace(f'listen = "127.0.0.1:{port}"\n',
                                       f'listen = "127.0.0.1:{port}"\nmetrics_listen = "127.0.0.1:{self.metrics_port}"\n')
        cfg.write_text(text + "\n[audit]\ncheckpoint_every = 4\ncheckpoint_interval_s = 3600\n")
        self.config = cfg
        self.runner = NodeRunner(cfg).start()
        self.clients = [connect(fed, "de-node", self.runner.address, p) for p in (POST, CUSTOMS)]

    @property
    def post(self):  # type: ignore[no-untyped-def]
        return self.clients[0]

    @property
    def customs(self):  # type: ignore[no-untyped-def]
        return self.clients[1]

    def admin(self, method: str, request):  # type: ignore[no-untyped-def]
        stub = admin_pb2_grpc.AdminStub(self.post.channel)
        return getattr(stub, method)(request, metadata=self.post.metadata, timeout=30)

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.runner.close()


def _submit(node: EvidenceNode, start: int) -> str:
    req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(2, start=start).SerializeToString())
    return node.post.exchange.Submit(req, metadata=node.post.metadata, timeout=30).message_id


def _receive(node: EvidenceNode, count: int) -> list[exchange_pb2.Delivery]:
    return node.customs.receive(count)


def _wait(cond, what: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def scenario(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two AEDs (one acknowledged), one refused submit; the node is left running for Admin and /metrics."""
    tmp = tmp_path_factory.mktemp("evidence")
    node = EvidenceNode(federation, tmp)
    try:
        acked, pending = _submit(node, 12345678), _submit(node, 22345678)
        with pytest.raises(grpc.RpcError):
            node.post.exchange.Submit(exchange_pb2.SubmitRequest(format="no.such.v1", content=b"x"),
                                      metadata=node.post.metadata, timeout=30)
        got = _receive(node, 2)
        assert {d.message_id for d in got} == {acked, pending}
        ack = node.customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[acked]),
                                                metadata=node.customs.metadata, timeout=30)
        # The receive stream's delivered entries are written without waiting: poll for them.
        store = node.runner.node.store
        _wait(lambda: len([e for e in store.audit_entries() if e.event == audit.DELIVERED]) >= 2, "delivered entries")
        _wait(lambda: store.last_checkpoint() is not None, "a checkpoint after 4 entries")
        yield {"node": node, "acked": acked, "pending": pending, "receipt": ack.receipts[0].jws, "tmp": tmp}
    finally:
        node.close()


def test_every_event_of_the_scenario_is_in_the_audit_log(scenario: dict) -> None:
    entries = list(scenario["node"].runner.node.store.audit_entries())
    events = [(e.event, e.message_id) for e in entries]
    assert events[0][0] == audit.NODE_STARTED
    assert '"keys"' in entries[0].detail and "DE/POST/MAIN/signing" in entries[0].detail
    for mid in (scenario["acked"], scenario["pending"]):
        assert (audit.ACCEPTED, mid) in events and (audit.DELIVERED, mid) in events
    assert (audit.ACKNOWLEDGED, scenario["acked"]) in events
    assert (audit.ACKNOWLEDGED, scenario["pending"]) not in events
    assert any(e == audit.REFUSED for e, _ in events)
    assert all(b"<" not in e.detail.encode() for e in entries)  # metadata only, no document content


def test_admin_verify_audit_and_directory(scenario: dict) -> None:
    node = scenario["node"]
    rep = node.admin("VerifyAudit", admin_pb2.VerifyAuditRequest())
    assert rep.ok and rep.first_bad_sequence == 0
    assert rep.entries_checked >= 6 and rep.checkpoints_checked >= 1
    d = node.admin("GetDirectory", admin_pb2.GetDirectoryRequest())
    assert b"[federation]" in d.directory and d.version == 1


def test_admin_kpis_count_the_scenario(scenario: dict) -> None:
    req = admin_pb2.GetKpisRequest(partner=POST, period="day", to=Timestamp(seconds=int(time.time()) + 60))
    getattr(req, "from").CopyFrom(Timestamp(seconds=int(time.time()) - 86400))
    rows = scenario["node"].admin("GetKpis", req).rows
    assert sum(r.items_with_aed for r in rows) == 4
    assert sum(sum(r.refused_by_reason.values()) for r in rows) == 1
    with pytest.raises(grpc.RpcError) as err:
        scenario["node"].admin("GetKpis", admin_pb2.GetKpisRequest(period="year"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_admin_kpis_default_to_the_last_30_days_and_never_send_nan(scenario: dict) -> None:
    rows = scenario["node"].admin("GetKpis", admin_pb2.GetKpisRequest(partner=POST)).rows
    assert sum(r.items_with_aed for r in rows) == 4, "without `from`, the last 30 days"
    for row in rows:
        for field, value in row.ListFields():
            assert not (isinstance(value, float) and math.isnan(value)), field.name
    assert any(not r.HasField("aed_lead_time_p50_s") for r in rows), "no arrival events: absent, not NaN or 0"


def test_metrics_scrape_shows_the_scenario(scenario: dict) -> None:
    port = scenario["node"].metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'swg_submits_total{document_type="swg.aed.v1",outcome="accepted"} 2.0' in text
    assert 'swg_submits_total{document_type="",outcome="refused"} 1.0' in text
    assert 'swg_deliveries_total{outcome="delivered"} 2.0' in text
    assert 'swg_deliveries_total{outcome="acknowledged"} 1.0' in text
    assert 'swg_queue_depth{recipient="DE/CUSTOMS/MAIN"} 1.0' in text
    assert "swg_delivery_seconds_count 1.0" in text
    assert "swg_submit_seconds_count 2.0" in text


def _bundle(scenario: dict) -> bytes:
    return scenario["node"].admin("ExportEvidence", admin_pb2.ExportEvidenceRequest(message_id=scenario["acked"])).bundle


def test_exported_bundle_verifies_in_a_separate_process_with_only_the_ca(scenario: dict, federation: Federation) -> None:
    out = scenario["tmp"] / "offline"
    out.mkdir(exist_ok=True)
    shutil.copy(federation.paths.ca_cert, out / "ca.crt")
    (out / "bundle.zip").write_bytes(_bundle(scenario))
    run = subprocess.run([sys.executable, "-m", "gateway", "evidence", "verify-bundle", "bundle.zip", "--ca", "ca.crt"],
                         cwd=out, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"VALID evidence of message {scenario['acked']}" in run.stdout
    assert f"receipt: {CUSTOMS}" in run.stdout

    names = zipfile.ZipFile(out / "bundle.zip").namelist()
    assert set(names) >= {"manifest.json", "envelope.bin", "receipts/1.jws", "audit/entries.jsonl",
                          "audit/checkpoint.jws"}
    with zipfile.ZipFile(out / "bundle.zip") as zf:
        original = {n: zf.read(n) for n in names}
    tampered = dict(original)
    tampered["audit/entries.jsonl"] = original["audit/entries.jsonl"].replace(b'"acknowledged"', b'"expired"', 1)
    (out / "bad.zip").write_bytes(_zip(tampered))
    run = subprocess.run([sys.executable, "-m", "gateway", "evidence", "verify-bundle", "bad.zip", "--ca", "ca.crt"],
                         cwd=out, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert run.returncode == 1 and "INVALID: audit/entries.jsonl" in run.stdout


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    return buf.getvalue()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_altering_any_file_of_a_bundle_fails_verification(scenario: dict, federation: Federation) -> None:
    with zipfile.ZipFile(io.BytesIO(_bundle(scenario))) as zf:
        original = {n: zf.read(n) for n in zf.namelist()}
    assert evidence.verify_bundle(_zip(original), federation.trust).message_id == scenario["acked"]
    for name, data in original.items():
        for at in (0, len(data) // 2, len(data) - 2):
            altered = dict(original, **{name: _flip(data, at)})
            with pytest.raises(evidence.EvidenceInvalid):
                evidence.verify_bundle(_zip(altered), federation.trust)
        with pytest.raises(evidence.EvidenceInvalid, match=name.split("/")[0]):
            evidence.verify_bundle(_zip({n: d for n, d in original.items() if n != name}), federation.trust)
    with pytest.raises(evidence.EvidenceInvalid, match="unexpected"):
        evidence.verify_bundle(_zip(dict(original, **{"extra.txt": b"hi"})), federation.trust)


def test_single_receipt_and_envelope_verify_offline(scenario: dict, federation: Federation, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp = scenario["tmp"]
    (tmp / "receipt.jws").write_text(scenario["receipt"])
    assert cli(["evidence", "verify", str(tmp / "receipt.jws"), "--ca", str(federation.paths.ca_cert),
                "--crl", str(federation.paths.crl)]) == 0
    assert "VALID receipt" in capsys.readouterr().out
    env = scenario["node"].runner.node.store.envelope(scenario["acked"])
    (tmp / "envelope.bin").write_bytes(env)
    assert cli(["evidence", "verify", str(tmp / "envelope.bin"), "--ca", str(federation.paths.ca_cert)]) == 0
    assert f"{POST} signed message {scenario['acked']}" in capsys.readouterr().out
    (tmp / "envelope-bad.bin").write_bytes(_flip(env, len(env) - 5))
    assert cli(["evidence", "verify", str(tmp / "envelope-bad.bin"), "--ca", str(federation.paths.ca_cert)]) == 1
    assert "INVALID" in capsys.readouterr().out


# -- tampering with the database ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped_db(scenario: dict) -> Path:
    """A copy of the scenario node's database after a clean stop (which signs a final checkpoint)."""
    node = scenario["node"]
    node.runner.stop()
    copy = scenario["tmp"] / "pristine.db"
    shutil.copy(scenario["tmp"] / "de-node.db", copy)
    node.runner.start()
    return copy


def _verify(scenario: dict, db: Path, capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    cfg = scenario["tmp"] / "tampered.toml"
    cfg.write_text(scenario["node"].config.read_text().replace(str(scenario["tmp"] / "de-node.db"), str(db)))
    code = cli(["audit", "verify", "--config", str(cfg)])
    return code, capsys.readouterr().out


def _tampered(scenario: dict, stopped_db: Path, sql: list[tuple[str, tuple]]) -> Path:
    db = scenario["tmp"] / "tampered.db"
    shutil.copy(stopped_db, db)
    with sqlite3.connect(db) as conn:
        for stmt, params in sql:
            conn.execute(stmt, params)
    return db


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT seq, at_us, event, message_id, actor, subject, detail, prev_hash, entry_hash "
                            "FROM audit_log ORDER BY seq").fetchall()


def test_untouched_log_verifies(scenario: dict, stopped_db: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = _verify(scenario, stopped_db, capsys)
    assert code == 0 and out.startswith("OK:")


@pytest.mark.parametrize("case", ["edit", "delete", "delete-last", "reorder", "insert"])
def test_tampering_with_one_row_is_detected_and_named(case: str, scenario: dict, stopped_db: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(stopped_db)
    n = len(rows)
    target = 3
    if case == "edit":
        sql = [("UPDATE audit_log SET actor = 'DE/TAX/MAIN' WHERE seq = ?", (target,))]
        expect = f"BROKEN at entry {target}: entry content does not match"
    elif case == "delete":
        sql = [("DELETE FROM audit_log WHERE seq = ?", (target,))]
        expect = f"BROKEN at entry {target + 1}: sequence {target + 1} where {target} was expected"
    elif case == "delete-last":
        sql = [("DELETE FROM audit_log WHERE seq = ?", (n,))]
        expect = f"BROKEN at entry {n}"
    elif case == "reorder":
        sql = [("UPDATE audit_log SET seq = -1 WHERE seq = ?", (target,)),
               ("UPDATE audit_log SET seq = ? WHERE seq = ?", (target, target + 1)),
               ("UPDATE audit_log SET seq = ? WHERE seq = -1", (target + 1,))]
        expect = f"BROKEN at entry {target}: prev_hash does not match"
    else:
        last = rows[-1]
        forged = audit.entry_hash(n + 1, last[1] + 1, "acknowledged", "forged", "X", "", "{}", bytes(last[8]))
        sql = [("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?)",
                (n + 1, last[1] + 1, "acknowledged", "forged", "X", "", "{}", bytes(last[8]), forged))]
        expect = f"BROKEN at entry {n + 1}"
    code, out = _verify(scenario, _tampered(scenario, stopped_db, sql), capsys)
    assert code == 1
    assert out.startswith(expect), out


def test_rewriting_and_rehashing_the_whole_chain_is_caught_by_the_signed_checkpoint(scenario: dict, stopped_db: Path,
                                                                                       capsys) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(stopped_db)
    sql: list[tuple[str, tuple]] = []
    prev = audit.GENESIS
    for seq, at_us, event, mid, actor, subject, detail, _, _ in rows:
        if seq == 2:
            actor = "DE/TAX/MAIN"
        h = audit.entry_hash(seq, at_us, event, mid, actor, subject, detail, prev)
        sql.append(("UPDATE audit_log SET actor = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?", (actor, prev, h, seq)))
        prev = h
    sql.append(("UPDATE audit_head SET entry_hash = ?", (prev,)))
    code, out = _verify(scenario, _tampered(scenario, stopped_db, sql), capsys)
    assert code == 1
    assert "does not match the signed checkpoint" in out and "rewritten" in out


def test_cli_export_and_kpi_read_the_node_database(scenario: dict, federation: Federation, capsys) -> None:  # type: ignore[no-untyped-def]
    tmp, cfg = scenario["tmp"], str(scenario["node"].config)
    assert cli(["evidence", "export", scenario["acked"], "--config", cfg, "-o", str(tmp / "cli.zip")]) == 0
    assert evidence.verify_bundle((tmp / "cli.zip").read_bytes(), federation.trust).message_id == scenario["acked"]
    assert cli(["evidence", "export", "no-such-message", "--config", cfg, "-o", str(tmp / "x.zip")]) == 1
    capsys.readouterr()
    assert cli(["kpi", "--config", cfg, "--format", "csv", "--partner", POST]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("partner,period_start,items_with_aed") and lines[1].startswith(f"{POST},")


# -- the Merkle log: inclusion proofs from a real node's database ---------------------------------------


def _prove(scenario: dict, db: Path, ref: str, capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    cfg = scenario["tmp"] / "proving.toml"
    cfg.write_text(scenario["node"].config.read_text().replace(str(scenario["tmp"] / "de-node.db"), str(db)))
    code = cli(["audit", "prove", ref, "--config", str(cfg)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prove_prints_an_inclusion_proof_an_independent_rfc9162_verifier_accepts(scenario: dict, stopped_db: Path,
                                                                                  capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = _prove(scenario, stopped_db, scenario["acked"], capsys)
    assert code == 0
    proof, checkpoint = out.split("\n\n")
    lines = proof.splitlines()
    assert lines[0] == "c2sp.org/tlog-proof@v1" and lines[1].startswith("extra ") and lines[2].startswith("index ")
    entry, index = base64.b64decode(lines[1][6:]), int(lines[2][6:])
    path = [base64.b64decode(h) for h in lines[3:]]
    origin, size, root = checkpoint.splitlines()
    # The leaves are recomputed here from the rows as docs/evidence.md states them, not read from the tree table.
    rows = _rows(stopped_db)
    leaves = [json.dumps([r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]).hex()], separators=(",", ":"),
                         ensure_ascii=True).encode() for r in rows]
    assert origin == "swg/audit/de-node" and int(size) == len(rows)
    assert base64.b64decode(root) == rfc_mth(leaves)
    assert entry == leaves[index] and json.loads(entry)[3] == scenario["acked"]
    assert rfc_verify_inclusion(index, len(rows), entry, path, base64.b64decode(root))


def test_prove_refuses_an_entry_edited_in_the_database_and_names_it(scenario: dict, stopped_db: Path,
                                                                   capsys) -> None:  # type: ignore[no-untyped-def]
    db = _tampered(scenario, stopped_db, [("UPDATE audit_log SET actor = 'XX/EVIL/ONE' WHERE seq = 3", ())])
    code, out, err = _prove(scenario, db, "3", capsys)
    assert code == 1 and out == ""
    assert err.startswith("no proof: audit entry 3: inclusion proof does not lead to the root hash")
    code, _, err = _prove(scenario, db, "no-such-message", capsys)
    assert code == 1 and "no audit entries for message 'no-such-message'" in err
