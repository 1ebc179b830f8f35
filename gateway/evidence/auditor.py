"""A node's evidence duties over its store: signed audit checkpoints, audit verification, evidence export.

Checkpoints are signed with the node's token key (``[tokens] signing_key``; a node certificate with
digitalSignature, Purpose.TOKEN_SIGNING). It is the key that already speaks for the node as a whole;
a participant key would make a checkpoint look like a statement of one agency. A node without that
key writes no checkpoints (the chain itself is still kept and verified) and says so in its log.
"""

from __future__ import annotations

import dataclasses

import asyncio
import json
import time

import structlog

from gateway import envelope
from gateway.evidence import audit, merkle, timestamping
from gateway.evidence import bundle as evidence
from gateway.config import NodeConfig
from gateway.errors import FailedPrecondition, NotFound
from gateway.store import Store
from gateway.store.audit_log import leaf_bytes
from gateway.crypto.trust import TrustStore, certificate_file_sha256

log = structlog.get_logger("gateway.evidence.auditor")


def _now_us() -> int:
    return time.time_ns() // 1000


def checkpoint_signer(cfg: NodeConfig) -> envelope.Signer | None:
    if cfg.tokens.signing_key is None:
        return None
    return envelope.Signer.from_files(cfg.tokens.signing_key, cfg.tokens.signing_certificate, cfg.pkcs11)


def make_checkpoint(store: Store, signer: envelope.Signer, node: str, at_us: int | None = None
                    ) -> audit.Checkpoint | None:
    """Sign the current chain head unless the last checkpoint already covers it.

    The checkpoint names the previous one (``prev``); the store refuses it if another process signed a
    checkpoint in between, and then the head is read again, so the checkpoints stay one unbroken chain.
    """
    for _ in range(5):
        head = store.audit_head()
        if head is None:
            return None
        last = store.last_checkpoint()
        if last is not None and last.seq >= head[0]:
            return last
        cp = audit.sign_checkpoint(signer, node, head[0], head[1], at_us if at_us is not None else _now_us(),
                                   prev=last.seq if last is not None else 0)
        if store.add_checkpoint(cp).result():
            timestamping.checkpoint_stored(store, cp.seq, audit.checkpoint_payload(node, cp.seq, cp.head_hash,
                                                                                   cp.at_us, cp.prev))
            return cp
    raise FailedPrecondition("audit checkpoint: other processes kept signing checkpoints in between")


def verify_store(store: Store, trust: TrustStore, node: str, interval_s: float | None = None,
                 now_us: int | None = None) -> audit.AuditReport:
    """``interval_s``: the node's ``[audit] checkpoint_interval_s`` if it signs checkpoints (see
    ``cadence_of``), else None (only the chain is checked)."""
    # A live node appends while this walks: verify the log as it stood when the head was read (entries and
    # checkpoints up to it), then make sure nothing lies beyond the head as it stands after the walk.
    head = store.audit_head()
    last = head[0] if head is not None else 0
    checkpoints = [c for c in store.audit_checkpoints() if c.seq <= last]
    report = audit.verify_log(store.audit_entries(last_seq=last), head, checkpoints, trust, node,
                              interval_s=interval_s, now_us=now_us)
    if not report.ok:
        return report
    after = store.audit_head()
    beyond = next(store.audit_entries(first=(after[0] if after is not None else 0) + 1), None)
    if beyond is not None:
        return dataclasses.replace(report, ok=False, first_bad_seq=beyond.seq,
                                   reason=f"entry {beyond.seq} lies beyond the chain head (an inserted row)")
    return report


def cadence_of(cfg: NodeConfig) -> float | None:
    """The checkpoint interval verify holds a node to: None when the node has no key to sign checkpoints."""
    return cfg.audit.checkpoint_interval_s if cfg.tokens.signing_key is not None else None


def export_evidence(store: Store, message_id: str, signer: envelope.Signer | None, node: str) -> bytes:
    """The evidence bundle of one message (layout in gateway.evidence.bundle), covered by a signed checkpoint;
    signs a fresh checkpoint when none covers the message's latest entry yet."""
    env = store.envelope(message_id)
    seqs = store.audit_seqs_of(message_id)
    if not seqs:
        raise NotFound(f"no audit entries for message {message_id!r}")
    cp = next((c for c in store.audit_checkpoints() if c.seq >= seqs[-1]), None)
    if cp is None:
        if signer is None:
            raise FailedPrecondition("no signed checkpoint covers this message and the node has no token "
                                     "signing key (tokens.signing_key) to sign one")
        cp = make_checkpoint(store, signer, node)
        assert cp is not None
    entries = list(store.audit_entries(first=seqs[0], last_seq=cp.seq))
    receipts = [r.jws for r in store.receipts_of(message_id)]
    return evidence.build_bundle(message_id=message_id, node=cp.node, envelope_bytes=env, receipts=receipts,
                                 entries=entries, checkpoint=cp)


class CheckpointWorker:
    """Signs a checkpoint every ``checkpoint_every`` entries or ``checkpoint_interval_s`` seconds
    (whichever comes first, and only when there are new entries)."""

    def __init__(self, store: Store, signer: envelope.Signer, node: str, every: int, interval_s: float):
        self.store, self.signer, self.node = store, signer, node
        self.every, self.interval_s = every, interval_s
        self._last_seq = 0
        self._last_at = time.monotonic()

    def _tick(self) -> None:
        head = self.store.audit_head()
        if head is None:
            return
        if not self._last_seq:
            last = self.store.last_checkpoint()
            self._last_seq = last.seq if last else 0
        new = head[0] - self._last_seq
        if new <= 0:
            return
        if new >= self.every or time.monotonic() - self._last_at >= self.interval_s:
            cp = make_checkpoint(self.store, self.signer, self.node)
            if cp is not None:
                self._last_seq, self._last_at = cp.seq, time.monotonic()
                log.info("audit checkpoint", seq=cp.seq, head=cp.head_hash.hex())

    async def run(self) -> None:
        tick = min(self.interval_s, 0.5)
        while True:
            await asyncio.sleep(tick)
            try:
                await asyncio.to_thread(self._tick)
            except Exception as exc:  # noqa: BLE001 - a failed checkpoint is retried on the next tick
                log.error("audit checkpoint failed", reason=f"{type(exc).__name__}: {exc}")

    def final(self) -> None:
        """On shutdown: cover everything written so far."""
        make_checkpoint(self.store, self.signer, self.node)


def key_fingerprints(cfg: NodeConfig) -> dict[str, str]:
    """SHA-256 of every certificate whose key this node uses, by role."""
    prints = {"node/tls": certificate_file_sha256(cfg.tls.cert),
              "node/token": certificate_file_sha256(cfg.tokens.signing_certificate)}
    for p in cfg.participants:
        prints[f"{p.id}/signing"] = certificate_file_sha256(p.signing_cert)
        prints[f"{p.id}/encryption"] = certificate_file_sha256(p.encryption_cert)
    return prints


def record_start(store: Store, cfg: NodeConfig, directory_version: int, at_us: int | None = None) -> None:
    """Append node_started with the key fingerprints, preceded by a key_changed entry for every key
    that differs from the previous start (so a key swap is visible in the log, not only in files)."""
    keys = key_fingerprints(cfg)
    previous: dict[str, str] = {}
    last = store.last_audit_of(audit.NODE_STARTED, cfg.name)
    if last is not None:
        try:
            previous = dict(json.loads(last.detail).get("keys", {}))
        except (ValueError, AttributeError, TypeError):
            previous = {}
    events = []
    if last is not None:
        for role in sorted(set(keys) | set(previous)):
            if keys.get(role) != previous.get(role):
                events.append(audit.AuditEvent(audit.KEY_CHANGED, actor=cfg.name, subject=role[:64], detail={
                    "key": role, "from": previous.get(role, ""), "to": keys.get(role, "")}))
    events.append(audit.AuditEvent(audit.NODE_STARTED, actor=cfg.name, detail={
        "participants": sorted(p.id for p in cfg.participants), "directory_version": directory_version,
        "keys": keys}))
    store.append_audit(events, at_us if at_us is not None else _now_us()).result()


def inclusion_text(store: Store, node: str, ref: str) -> str:
    """The tlog-proof text of entry ``ref`` (a seq) or of the latest entry of message ``ref``, against the tree
    of every entry logged so far; the proof is checked before it is returned."""
    head = store.audit_head()
    if head is None:
        raise NotFound("the audit log is empty")
    if ref.isdigit():
        seq = int(ref)
    else:
        seqs = store.audit_seqs_of(ref)
        if not seqs:
            raise NotFound(f"no audit entries for message {ref!r}")
        seq = seqs[-1]
    entry = store.audit_entry(seq)
    if entry is None or not 1 <= seq <= head[0]:
        raise NotFound(f"no audit entry {seq} (the log has {head[0]})")
    size = head[0]
    try:
        path = merkle.inclusion_proof(seq - 1, size, store.audit_tree_nodes)
        root = merkle.root(size, store.audit_tree_nodes)
        data = leaf_bytes(entry)
        merkle.verify_inclusion(seq - 1, size, merkle.leaf_hash(data), path, root)
    except merkle.ProofError as exc:
        raise FailedPrecondition(f"audit entry {seq}: {exc}") from exc
    return merkle.proof_text(seq - 1, data, path, merkle.checkpoint_body(node, size, root))
