"""Retention runs: archive final messages older than ``[retention] keep_days`` to the next file of the chain,
then prune them from the database (gateway.store.retention).

Crash safety, in this order: the file is written under a temporary name, fsynced, renamed into place and
the folder fsynced; only then does one transaction record the archive and prune its messages. A crash
before the rename leaves a temporary file (removed by the next run, nothing was pruned); a crash after it
leaves a file the database does not know yet: the next run verifies it and records it (prunes its messages),
so nothing is lost and nothing is pruned twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway import envelope
from gateway.clock import now_us
from gateway.config import NodeConfig
from gateway.crypto.trust import TrustStore
from gateway.errors import FailedPrecondition
from gateway.evidence import archive, auditor
from gateway.store import ArchiveRecord, Store

log = structlog.get_logger("gateway.evidence.archiver")

DAY_US = 86_400 * 1_000_000
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class RunReport:
    archives: tuple[str, ...]
    archived: int
    pruned: int
    resumed: str = ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(directory: Path, name: str, data: bytes) -> None:
    tmp = directory / (name + _TMP_SUFFIX)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / name)
    _fsync_dir(directory)


def _resume(store: Store, directory: Path, trust: TrustStore, node: str) -> tuple[ArchiveRecord | None, str, int]:
    """Reconcile the folder with the database's record of the chain: (last record, file resumed, pruned)."""
    for leftover in directory.glob("archive-*.zip" + _TMP_SUFFIX):
        leftover.unlink()  # written before a crash and never renamed: nothing was pruned for it
    last = store.last_archive()
    files = archive.archive_files(directory)
    recorded = last.seq if last is not None else 0
    newest = int(archive.NAME_RE.fullmatch(files[-1].name).group(1)) if files else 0  # type: ignore[union-attr]
    if last is not None:
        have = directory / last.name
        if not have.is_file():
            raise FailedPrecondition(f"{have}: archive {last.seq} is recorded in the database but missing from "
                                     f"the archive folder (restore it before archiving more)")
        if hashlib.sha256(have.read_bytes()).digest() != last.sha256:
            raise FailedPrecondition(f"{have}: differs from the archive the database recorded (sha256)")
    if newest <= recorded:
        return last, "", 0
    if newest > recorded + 1:
        raise FailedPrecondition(f"{directory}: holds {files[-1].name} but the database recorded archives only up "
                                 f"to {recorded}: is this another node's archive folder?")
    path = files[-1]
    data = path.read_bytes()
    try:
        man = archive.verify_archive(data, trust)
    except archive.ArchiveInvalid as exc:
        raise FailedPrecondition(f"{path}: written before a crash but does not verify ({exc}); move it "
                                 "away to archive its messages again") from None
    if man.node != node:
        raise FailedPrecondition(f"{path}: written by node {man.node!r}, not {node!r}")
    rec = ArchiveRecord(man.seq, path.name, hashlib.sha256(data).digest(), man.created_us, len(man.message_ids))
    pruned = store.record_archive(rec, man.message_ids, actor=node).result()
    log.warning("archive resumed after a crash", archive=path.name, pruned=len(pruned))
    return rec, path.name, len(pruned)


def run(store: Store, *, signer: envelope.Signer, trust: TrustStore, node: str, directory: Path, keep_days: float,
        at_us: int | None = None, batch: int = 1000) -> RunReport:
    """Archive and prune every message that is final and older than ``keep_days`` (as of ``at_us``, now by
    default), ``batch`` messages per archive file."""
    directory.mkdir(parents=True, exist_ok=True)
    last, resumed, pruned = _resume(store, directory, trust, node)
    cutoff = (at_us if at_us is not None else now_us()) - int(keep_days * DAY_US)
    names: list[str] = []
    archived = 0
    while ids := store.archivable(cutoff, batch):
        msgs = store.archive_contents(ids)
        cp = auditor.make_checkpoint(store, signer, node)
        if cp is None or cp.seq < max((e.seq for m in msgs for e in m.entries), default=0):
            raise FailedPrecondition("no audit checkpoint covers the messages to archive")
        seq = (last.seq if last is not None else 0) + 1
        name = archive.archive_name(seq)
        created = now_us()
        data = archive.build_archive(signer=signer, node=node, seq=seq, created_us=created,
                                     prev=None if last is None else (last.name, last.sha256), messages=msgs,
                                     checkpoint=cp)
        _write_durably(directory, name, data)
        last = ArchiveRecord(seq, name, hashlib.sha256(data).digest(), created, len(msgs))
        done = store.record_archive(last, ids, actor=node).result()
        names.append(name)
        archived += len(msgs)
        pruned += len(done)
        log.info("archive written", archive=name, messages=len(msgs), pruned=len(done))
        if len(done) < len(ids):
            # Some became open again between the read and the prune; they wait for a later run.
            break
    return RunReport(tuple(names), archived, pruned, resumed)


def signer_and_trust(cfg: NodeConfig) -> tuple[envelope.Signer, TrustStore]:
    signer = auditor.checkpoint_signer(cfg)
    if signer is None:
        raise FailedPrecondition("retention needs the node's token signing key (tokens.signing_key): archive "
                                 "manifests and checkpoints are signed with it")
    return signer, TrustStore.from_files(cfg.tls.ca, cfg.tls.crl)


def run_configured(store: Store, cfg: NodeConfig, *, at_us: int | None = None) -> RunReport:
    if cfg.retention is None:
        raise FailedPrecondition(f"{cfg.path}: no [retention] section (keep_days, archive_dir)")
    signer, trust = signer_and_trust(cfg)
    return run(store, signer=signer, trust=trust, node=cfg.name, directory=cfg.retention.archive_dir,
               keep_days=cfg.retention.keep_days, at_us=at_us, batch=cfg.retention.batch)


class ArchiveWorker:
    """``[retention] interval_s``: a run now and then in the node's singleton process."""

    def __init__(self, store: Store, cfg: NodeConfig):
        assert cfg.retention is not None
        self.store, self.cfg, self.interval_s = store, cfg, cfg.retention.interval_s

    async def run(self) -> None:
        while True:
            try:
                rep = await asyncio.to_thread(run_configured, self.store, self.cfg)
                if rep.archives or rep.resumed:
                    log.info("retention run", archives=list(rep.archives), archived=rep.archived, pruned=rep.pruned)
            except Exception as exc:  # noqa: BLE001 - retried next interval; nothing is pruned before a file is durable
                log.error("retention run failed", reason=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval_s)
