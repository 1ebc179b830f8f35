"""Retention through a real node: final messages older than keep_days are archived to signed, hash-linked
files and pruned, while GetStatus and a duplicate resubmit still answer; `gateway archive verify` checks the
chain offline and names the file a flipped byte, a missing archive or a reordered chain breaks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from gateway.clock import now_us
from gateway.config import load_node_config
from gateway.evidence import archive, archiver, audit, auditor
from gateway.store import DeliveryState
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
ROOT = Path(__file__).resolve().parents[2]
DAY_US = 86_400 * 1_000_000


class RetentionNode:
    def __init__(self, fed: Federation, tmp: Path, keep_days: float = 1, interval_s: float = 3600):
        self.fed, self.tmp = fed, tmp
        port = free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        cfg = write_node_config(fed, tmp, "de-node", port, directory)
        self.archive_dir = tmp / "archives"
        cfg.write_text(cfg.read_text() + f'\n[retention]\nkeep_days = {keep_days}\n'
                       f'archive_dir = "{self.archive_dir}"\ninterval_s = {interval_s}\n')
        self.config = cfg
        self.cfg = load_node_config(cfg)
        self.runner = NodeRunner(cfg).start()
        self.post = connect(fed, "de-node", self.runner.address, POST)
        self.customs = connect(fed, "de-node", self.runner.address, CUSTOMS)
        self.store = self.runner.node.store

    def submit(self, start: int, message_id: str) -> exchange_pb2.SubmitResponse:
        req = exchange_pb2.SubmitRequest(message_id=message_id, format="swg.aed.v1",
                                         content=aed_batch(2, start=start).SerializeToString())
        return self.post.exchange.Submit(req, metadata=self.post.metadata, timeout=30)

    def ack(self, *ids: str) -> None:
        self.customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=list(ids)),
                                          metadata=self.customs.metadata, timeout=30)

    def status(self, message_id: str) -> exchange_pb2.GetStatusResponse:
        return self.post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=message_id),
                                            metadata=self.post.metadata, timeout=30)

    def admin(self, method: str, request):  # type: ignore[no-untyped-def]
        stub = admin_pb2_grpc.AdminStub(self.post.channel)
        return getattr(stub, method)(request, metadata=self.post.metadata, timeout=30)

    def run(self, days_later: float) -> archiver.RunReport:
        """A retention run as the node's clock will see it ``days_later`` days from now."""
        return archiver.run_configured(self.store, self.cfg, at_us=now_us() + int(days_later * DAY_US))

    def envelope_sizes(self) -> dict[str, int]:
        engine = sqlalchemy.create_engine(self.cfg.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sqlalchemy.text("SELECT message_id, length(envelope) FROM messages")).all()
        finally:
            engine.dispose()
        return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        self.post.close()
        self.customs.close()
        self.runner.close()


def verify_cli(directory: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "archive", "verify", str(directory), "--ca", str(ca)],
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})


@pytest.fixture()
def node(federation: Federation, tmp_path: Path) -> Iterator[RetentionNode]:
    n = RetentionNode(federation, tmp_path)
    try:
        yield n
    finally:
        n.close()


def test_final_messages_are_archived_pruned_and_still_answer(node: RetentionNode, federation: Federation) -> None:
    acked = node.submit(12345678, "ret-acked").message_id
    other = node.submit(22345678, "ret-other").message_id
    open_ = node.submit(32345678, "ret-open").message_id
    assert {d.message_id for d in node.customs.receive(3)} == {acked, other, open_}
    node.ack(acked, other)
    first_answer = node.status(acked)

    assert node.run(days_later=0).archived == 0, "younger than keep_days: nothing is archived"
    assert not archive.archive_files(node.archive_dir)

    rep = node.run(days_later=2)
    assert rep.archives == ("archive-00000001.zip",) and rep.archived == 2 and rep.pruned == 2
    sizes = node.envelope_sizes()
    assert sizes[acked] == 0 and sizes[other] == 0
    assert sizes[open_] > 0, "a message delivered but not acknowledged is not final: never archived"
    with zipfile.ZipFile(node.archive_dir / "archive-00000001.zip") as zf:
        names = set(zf.namelist())
    assert {"manifest.jws", "messages/1/envelope.bin", "messages/1/receipts/1.jws", "messages/2/envelope.bin",
            "audit/entries.jsonl", "audit/checkpoint.jws"} <= names

    # The audit log is never pruned: it still verifies, and records the archive. (Checked before the refused
    # submit below, whose audit entry the node writes in the background.)
    assert node.admin("VerifyAudit", admin_pb2.VerifyAuditRequest()).ok
    assert any(e.event == "archived" and e.subject == "archive-00000001.zip" for e in node.store.audit_entries())
    # What users rely on after the prune: GetStatus with its receipts, and a retried submit's first answer.
    st = node.status(acked)
    assert st == first_answer
    assert st.recipients[0].state == DeliveryState.ACKNOWLEDGED and st.recipients[0].receipts
    again = node.submit(12345678, "ret-acked")
    assert again.duplicate and again.message_id == acked
    with pytest.raises(grpc.RpcError) as err:
        node.submit(99345678, "ret-acked")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS, "different content under a known id"
    with pytest.raises(grpc.RpcError) as err:
        node.admin("ExportEvidence", admin_pb2.ExportEvidenceRequest(message_id=acked))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "archive-00000001.zip" in (err.value.details() or "")

    # The open message becomes final later and goes to the next archive, linked to the first.
    node.ack(open_)
    assert node.run(days_later=2).archives == ("archive-00000002.zip",)
    assert node.envelope_sizes()[open_] == 0
    assert node.run(days_later=2).archived == 0, "nothing is archived twice"

    ok = verify_cli(node.archive_dir, federation.paths.ca_cert)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VALID: 2 archive(s), 3 message(s)" in ok.stdout


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _two_archives(node: RetentionNode) -> None:
    a = node.submit(12345678, "chain-a").message_id
    node.customs.receive(1)
    node.ack(a)
    node.run(days_later=2)
    b = node.submit(22345678, "chain-b").message_id
    node.customs.receive(1)
    node.ack(b)
    node.run(days_later=2)
    assert [p.name for p in archive.archive_files(node.archive_dir)] == ["archive-00000001.zip", "archive-00000002.zip"]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_flipped_byte_anywhere_in_an_archive_fails_naming_the_file(node: RetentionNode, federation: Federation,
                                                                      tmp_path: Path, where: str) -> None:
    _two_archives(node)
    copy = tmp_path / "copy"
    shutil.copytree(node.archive_dir, copy)
    target = copy / "archive-00000001.zip"
    size = target.stat().st_size
    _flip(target, {"start": 0, "middle": size // 2, "end": size - 1}[where])
    bad = verify_cli(copy, federation.paths.ca_cert)
    assert bad.returncode == 1
    assert bad.stdout.startswith("INVALID: archive-00000001.zip"), bad.stdout + bad.stderr


def test_a_missing_or_reordered_archive_fails_naming_the_file(node: RetentionNode, federation: Federation,
                                                              tmp_path: Path) -> None:
    _two_archives(node)
    node.submit(32345678, "chain-c")
    node.customs.receive(1)
    node.ack("chain-c")
    node.run(days_later=2)

    missing = tmp_path / "missing"
    shutil.copytree(node.archive_dir, missing)
    (missing / "archive-00000002.zip").unlink()
    bad = verify_cli(missing, federation.paths.ca_cert)
    assert bad.returncode == 1 and "INVALID: archive-00000003.zip: archive 2 of the chain is missing" in bad.stdout

    swapped = tmp_path / "swapped"
    shutil.copytree(node.archive_dir, swapped)
    (swapped / "archive-00000001.zip").rename(swapped / "x")
    (swapped / "archive-00000002.zip").rename(swapped / "archive-00000001.zip")
    (swapped / "x").rename(swapped / "archive-00000002.zip")
    bad = verify_cli(swapped, federation.paths.ca_cert)
    assert bad.returncode == 1 and "INVALID: archive-00000001.zip: its manifest says it is archive 2" in bad.stdout

    # A file replaced by another, correctly named and signed archive breaks the next file's link.
    forged = tmp_path / "forged"
    shutil.copytree(node.archive_dir, forged)
    signer, _ = archiver.signer_and_trust(node.cfg)
    checkpoint = node.store.last_checkpoint()
    assert checkpoint is not None
    (forged / "archive-00000001.zip").write_bytes(archive.build_archive(
        signer=signer, node=node.cfg.name, seq=1, created_us=now_us(), prev=None, messages=[],
        checkpoint=auditor.make_checkpoint(node.store, signer, node.cfg.name) or checkpoint))
    bad = verify_cli(forged, federation.paths.ca_cert)
    assert bad.returncode == 1 and "INVALID: archive-00000002.zip: names previous archive" in bad.stdout


def test_a_crash_between_the_file_and_the_prune_resumes_without_loss(node: RetentionNode,
                                                                     federation: Federation) -> None:
    mid = node.submit(12345678, "crash-a").message_id
    node.customs.receive(1)
    node.ack(mid)
    # The state a crash leaves after the rename and before the database transaction: the next file of the
    # chain is in place, durable, and nothing is recorded or pruned.
    store, cfg = node.store, node.cfg
    signer, _ = archiver.signer_and_trust(cfg)
    ids = store.archivable(now_us() + 2 * DAY_US, 1000)
    assert ids == [mid]
    cp = auditor.make_checkpoint(store, signer, cfg.name)
    assert cp is not None
    data = archive.build_archive(signer=signer, node=cfg.name, seq=1, created_us=now_us(), prev=None,
                                 messages=store.archive_contents(ids), checkpoint=cp)
    node.archive_dir.mkdir(exist_ok=True)
    (node.archive_dir / "archive-00000002.zip.tmp").write_bytes(b"half written")
    archiver._write_durably(node.archive_dir, "archive-00000001.zip", data)
    assert node.envelope_sizes()[mid] > 0

    rep = node.run(days_later=2)
    assert rep.resumed == "archive-00000001.zip" and rep.pruned == 1
    assert rep.archives == (), "the message is in the resumed file: not archived a second time"
    assert node.envelope_sizes()[mid] == 0
    assert [p.name for p in node.archive_dir.iterdir()] == ["archive-00000001.zip"], "the torn file is gone"
    assert node.status(mid).recipients[0].state == DeliveryState.ACKNOWLEDGED
    assert verify_cli(node.archive_dir, federation.paths.ca_cert).returncode == 0


def test_archive_run_cli_and_a_folder_that_lost_a_recorded_archive(node: RetentionNode) -> None:
    mid = node.submit(12345678, "cli-a").message_id
    node.customs.receive(1)
    node.ack(mid)
    node.run(days_later=2)
    (node.archive_dir / "archive-00000001.zip").unlink()
    run = subprocess.run([sys.executable, "-m", "gateway", "archive", "run", "--config", str(node.config)],
                         capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert run.returncode == 2
    assert "archive 1 is recorded in the database but missing from the archive folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_failed_message_is_final_and_once_archived_a_retry_leaves_it_alone(node: RetentionNode) -> None:
    mid = node.submit(12345678, "failed-a").message_id
    delivery = node.store.status(mid).deliveries[0]
    node.store.fail(delivery.id, "recipient gone", audit.AuditEvent(audit.FAILED, mid, subject=CUSTOMS),
                    now_us()).result()
    assert node.run(days_later=2).pruned == 1
    assert node.envelope_sizes()[mid] == 0
    assert node.store.retry([mid], None, now_us(), "operator").result() == 0, "no envelope left to deliver"
    assert node.status(mid).recipients[0].state == DeliveryState.FAILED


def test_the_node_archives_in_the_background(federation: Federation, tmp_path: Path) -> None:
    n = RetentionNode(federation, tmp_path, keep_days=0, interval_s=1)
    try:
        mid = n.submit(12345678, "bg-a").message_id
        open_ = n.submit(22345678, "bg-open").message_id
        n.customs.receive(2)
        n.ack(mid)
        deadline = time.monotonic() + 30
        while n.store.archive_of(mid) is None:
            assert time.monotonic() < deadline, "the background task archived nothing within 30 s"
            time.sleep(0.1)
        assert n.envelope_sizes()[mid] == 0 and n.envelope_sizes()[open_] > 0
        assert n.store.archive_of(open_) is None
    finally:
        n.close()
