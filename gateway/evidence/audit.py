"""The hash-chained audit log: how an entry is encoded and hashed, and how a chain is verified.

Pure functions over plain values; ``gateway.store`` persists entries and calls ``entry_hash`` while
appending, so that the chain rule lives in one place. An entry's hash covers its sequence number,
time, event, ids, detail and the previous entry's hash: editing, deleting, reordering or inserting any
row breaks the chain at that row.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway import envelope
from gateway.clock import now_us
from gateway.errors import GatewayError
from gateway.crypto.trust import Purpose, TrustStore

# The entry types, event names and the entry hash live with the store, which appends entries without
# importing the envelope; they are re-exported here, where chains and checkpoints are verified.
from gateway.store.audit_log import (
    ACCEPTED as ACCEPTED, ACKNOWLEDGED as ACKNOWLEDGED, CRL_CHANGED as CRL_CHANGED, CRL_REFUSED as CRL_REFUSED,
    ASSISTANCE_ANSWER as ASSISTANCE_ANSWER,
    ASSISTANCE_REQUEST as ASSISTANCE_REQUEST, DELIVERED as DELIVERED, DIRECTORY_CHANGED as DIRECTORY_CHANGED,
    DIRECTORY_REFUSED as DIRECTORY_REFUSED, EXPIRED as EXPIRED, FAILED as FAILED, GENESIS as GENESIS,
    KEY_CHANGED as KEY_CHANGED, NODE_STARTED as NODE_STARTED, RECEIPT_ISSUED as RECEIPT_ISSUED, REFUSED as REFUSED,
    RELAY_RECEIVED as RELAY_RECEIVED, RELAYED as RELAYED, RETRIED as RETRIED, AuditEntry as AuditEntry,
    AuditEvent as AuditEvent, Checkpoint as Checkpoint, canonical_detail as canonical_detail,
    entry_hash as entry_hash,
)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries_checked: int
    first_bad_seq: int
    reason: str
    head_hash: bytes


def verify_chain(entries: Iterable[AuditEntry], expected_head: tuple[int, bytes] | None = None) -> ChainReport:
    """Walk entries in storage order; report the first entry that breaks the chain.

    ``expected_head`` (seq, hash) is the recorded chain head: it catches a deleted tail, which the
    walk alone cannot see.
    """
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            what = "missing or deleted entry before it" if e.seq > expected_seq else "out of order or inserted"
            return ChainReport(False, count, e.seq, f"sequence {e.seq} where {expected_seq} was expected ({what})", prev)
        if e.prev_hash != prev:
            return ChainReport(False, count, e.seq, "prev_hash does not match the previous entry", prev)
        recomputed = entry_hash(e.seq, e.at_us, e.event, e.message_id, e.actor, e.subject, e.detail, e.prev_hash)
        if recomputed != e.entry_hash:
            return ChainReport(False, count, e.seq, "entry content does not match its hash (edited)", prev)
        prev = e.entry_hash
        expected_seq += 1
    if expected_head is not None:
        head_seq, head_hash = expected_head
        end = expected_seq - 1
        if head_seq < end:
            return ChainReport(False, count, head_seq + 1, f"entries after the recorded head {head_seq} "
                               f"(chain ends at {end}: entries appended or inserted)", prev)
        if head_seq != end or head_hash != prev:
            return ChainReport(False, count, end + 1, f"chain ends at {end} but the recorded head is "
                               f"entry {head_seq} (entries deleted from the end or head altered)", prev)
    return ChainReport(True, count, 0, "", prev)


# -- signed checkpoints ----------------------------------------------------------------------------
#
# A checkpoint is a JWS (docs/evidence.md "Other signed statements") by the node's token key over
# {"v":2,"node":...,"seq":...,"prev":...,"head":b64url(entry_hash of seq),"at":µs}. It pins the chain up to
# ``seq``: rewriting any covered entry, even with every later hash recomputed, no longer matches a signature
# the database cannot forge. ``prev`` is the seq of the checkpoint before it (0 for the first), so that the
# checkpoints form a chain of their own: deleting one of them is seen at the next. v1 checkpoints (no
# ``prev``) from earlier versions still verify.

CHECKPOINT_TYP = "swg-audit-checkpoint+jws"
CHECKPOINT_VERSION = 2
_CHECKPOINT_KEYS = {1: frozenset({"v", "node", "seq", "head", "at"}),
                    2: frozenset({"v", "node", "seq", "prev", "head", "at"})}
# A checkpoint is due at most ``checkpoint_interval_s`` after the first entry it covers, plus one tick of the
# worker (<= the interval); verify allows a grace of one more interval and this much for the commit itself.
COMMIT_SLACK_S = 1.0


def checkpoint_payload(node: str, seq: int, head_hash: bytes, at_us: int, prev: int | None = None) -> bytes:
    body: dict[str, object] = {"v": CHECKPOINT_VERSION if prev is not None else 1, "node": node, "seq": seq,
                               "head": envelope.b64url(head_hash), "at": at_us}
    if prev is not None:
        body["prev"] = prev
    return envelope.canonical_json(body)


def sign_checkpoint(signer: envelope.Signer, node: str, seq: int, head_hash: bytes, at_us: int,
                    prev: int = 0) -> Checkpoint:
    """``signer`` holds the node's token key and certificate (Purpose.TOKEN_SIGNING); ``prev`` is the seq
    of the node's previous checkpoint (0 if none)."""
    jws = signer.sign(checkpoint_payload(node, seq, head_hash, at_us, prev), typ=CHECKPOINT_TYP)
    return Checkpoint(seq, head_hash, at_us, node, jws, prev)


class CheckpointInvalid(Exception):
    pass


def verify_checkpoint(jws: str, trust: TrustStore) -> Checkpoint:
    """Verify a checkpoint JWS against the federation CA (node token certificate at the checkpoint
    time, naming the node in the payload); return what it states."""
    try:
        raw, _ = envelope.verify_jws(jws, trust, Purpose.TOKEN_SIGNING, typ=CHECKPOINT_TYP,
                                     at=dt.datetime.now(dt.timezone.utc))
    except GatewayError as exc:
        raise CheckpointInvalid(f"signature: {exc}") from exc
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise CheckpointInvalid("payload is not JSON") from exc
    version = body.get("v") if isinstance(body, dict) else None
    if (type(version) is not int or frozenset(body) != _CHECKPOINT_KEYS.get(version) or type(body["seq"]) is not int
            or type(body["at"]) is not int or not isinstance(body["node"], str) or not isinstance(body["head"], str)
            or (version == 2 and (type(body["prev"]) is not int or not 0 <= body["prev"] < body["seq"]))):
        raise CheckpointInvalid("payload is not a v1 or v2 checkpoint")
    prev = body["prev"] if version == 2 else None
    head = base64.urlsafe_b64decode(body["head"] + "=" * (-len(body["head"]) % 4))
    if checkpoint_payload(body["node"], body["seq"], head, body["at"], prev) != raw:
        raise CheckpointInvalid("payload is not canonical")
    at = dt.datetime.fromtimestamp(body["at"] / 1_000_000, dt.timezone.utc)
    try:
        _, signer = envelope.verify_jws(jws, trust, Purpose.TOKEN_SIGNING, typ=CHECKPOINT_TYP, at=at)
    except GatewayError as exc:
        raise CheckpointInvalid(f"signer certificate at {at.isoformat()}: {exc}") from exc
    if signer != body["node"]:
        raise CheckpointInvalid(f"signed by node {signer!r} but names node {body['node']!r}")
    return Checkpoint(body["seq"], head, body["at"], body["node"], jws, prev)


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_bad_seq: int
    reason: str
    head_hash: bytes
    # Findings that do not break the log (a late checkpoint whose continuity its successor proves).
    warnings: tuple[str, ...] = ()


def checkpoint_deadline_s(interval_s: float) -> float:
    """How long after an entry a checkpoint must cover it: the interval, a grace of one more, commit slack."""
    return 2 * interval_s + COMMIT_SLACK_S


def verify_log(entries: Iterable[AuditEntry], head: tuple[int, bytes] | None, checkpoints: Iterable[Checkpoint],
               trust: TrustStore, node: str, *, interval_s: float | None = None,
               now_us: int | None = None) -> AuditReport:
    """The chain walk of ``verify_chain`` plus every stored checkpoint: its signature (against the CA,
    by ``node``), its head hash against the chain entry at its seq, and its link to the checkpoint before.

    With ``interval_s`` (the node's ``[audit] checkpoint_interval_s``; None for a node that signs no
    checkpoints) the cadence is checked too: entries after the last checkpoint must be younger than
    ``checkpoint_deadline_s(interval_s)`` at ``now_us`` — an older uncovered tail is what remains when later
    checkpoints were deleted to hide a rewrite or a cut. A checkpoint that came later than that after
    the entries it covers fails the log unless its signed ``prev`` proves that no checkpoint is missing
    (then it is a warning: the node was busy or its database unavailable), or a node start lies in between
    (the entries of a run that crashed are covered after the restart). Reports the first bad entry.
    """
    cps = sorted(checkpoints, key=lambda c: c.seq)
    wanted = {c.seq for c in cps}
    after = wanted | {0}
    hashes: dict[int, bytes] = {}
    first_at: dict[int, int] = {}  # at_us of the first entry after each checkpoint (and of entry 1)
    starts: list[tuple[int, int]] = []  # (seq, at_us) of node_started entries

    def remember(stream: Iterable[AuditEntry]) -> Iterable[AuditEntry]:
        for e in stream:
            if e.seq in wanted:
                hashes[e.seq] = e.entry_hash
            if e.seq - 1 in after:
                first_at[e.seq] = e.at_us
            if e.event == NODE_STARTED:
                starts.append((e.seq, e.at_us))
            yield e

    chain = verify_chain(remember(entries), head)
    end = chain.entries_checked if chain.ok else 0
    problems: list[tuple[int, str]] = []
    warnings: list[str] = []
    if not chain.ok:
        problems.append((chain.first_bad_seq, chain.reason))
    deadline_us = None if interval_s is None else int(checkpoint_deadline_s(interval_s) * 1_000_000)
    checked = 0
    last_good = 0
    stored_prev = 0
    for cp in cps:
        checked += 1
        prev_seq, stored_prev = stored_prev, cp.seq
        try:
            stated = verify_checkpoint(cp.jws, trust)
        except CheckpointInvalid as exc:
            problems.append((cp.seq, f"checkpoint at entry {cp.seq} does not verify: {exc}"))
            continue
        if (stated.seq, stated.head_hash, stated.node) != (cp.seq, cp.head_hash, cp.node) or stated.node != node:
            problems.append((cp.seq, f"checkpoint at entry {cp.seq}: stored columns differ from its signed payload"))
            continue
        if stated.prev is not None and stated.prev != prev_seq:
            if stated.prev > prev_seq:
                what = (f"signs entry {stated.prev} as the previous checkpoint, which is missing "
                        f"(checkpoints deleted; the one before it in the database is at entry {prev_seq})")
            else:
                what = (f"signs entry {stated.prev} as the previous checkpoint, but the database has one at "
                        f"entry {prev_seq} in between (not signed by this node's checkpoint sequence)")
            problems.append((min(stated.prev, prev_seq) + 1, f"checkpoint at entry {cp.seq} {what}"))
        actual = hashes.get(cp.seq)
        if actual is None:
            if chain.ok:
                problems.append((cp.seq, f"checkpoint at entry {cp.seq} but the chain has no such entry "
                                         "(entries deleted)"))
            continue
        if actual != cp.head_hash:
            # The chain may still be internally consistent (every later hash recomputed): the signed
            # checkpoint is what exposes the rewrite. The first bad entry lies at or before cp.seq.
            problems.append((cp.seq, f"entry {cp.seq} does not match the signed checkpoint at that entry "
                                     f"(some of entries {last_good + 1}..{cp.seq} rewritten and rehashed)"))
            continue
        last_good = cp.seq
        if deadline_us is not None and prev_seq + 1 in first_at:
            ref_seq, ref_at = prev_seq + 1, first_at[prev_seq + 1]
            restarts = [s for s in starts if prev_seq + 1 < s[0] <= cp.seq]
            if restarts:
                ref_seq, ref_at = restarts[-1]
            late_s = (stated.at_us - ref_at) / 1_000_000
            if stated.at_us - ref_at > deadline_us:
                text = (f"checkpoint at entry {cp.seq} was signed {late_s:.1f} s after entry {ref_seq}, which it is "
                        f"the first to cover (the cadence allows {deadline_us / 1_000_000:g} s)")
                if stated.prev is None:
                    problems.append((ref_seq, f"{text}: a checkpoint in between is missing (deleted?)"))
                else:
                    warnings.append(f"{text}: late (node busy or database unavailable); "
                                    "its signed link shows that no checkpoint is missing")
    if chain.ok and interval_s is None:
        warnings.append("this node signs no checkpoints ([tokens] signing_key not set): only the hash chain "
                        "was checked, and a chain rewritten and rehashed from any entry would pass")
    elif chain.ok and deadline_us is not None and end > stored_prev:
        first = stored_prev + 1
        now = now_us if now_us is not None else time.time_ns() // 1000
        age_us = now - first_at.get(first, now)
        if age_us > deadline_us:
            covered = (f"the last signed checkpoint is at entry {stored_prev}" if stored_prev
                       else "there is no signed checkpoint at all")
            problems.append((first, f"entries {first}..{end} are covered by no signed checkpoint although entry "
                                    f"{first} is {age_us / 1_000_000:.1f} s old (limit {deadline_us / 1_000_000:g} s "
                                    f"= 2 x [audit] checkpoint_interval_s + {COMMIT_SLACK_S:g} s) and {covered}: "
                                    "checkpoints were deleted to hide a rewrite or a cut of the tail, or the node "
                                    "stopped without a clean shutdown and has not run since"))
    if problems:
        seq, reason = min(problems, key=lambda p: p[0])
        return AuditReport(False, chain.entries_checked, checked, seq, reason, chain.head_hash, tuple(warnings))
    return AuditReport(True, chain.entries_checked, checked, 0, "", chain.head_hash, tuple(warnings))


# -- refusals, aggregated -------------------------------------------------------------------------
#
# A refused call costs the caller nothing; an audit row per refusal would let one participant grow the
# chain without bound (3,600 rows in 10 s). Refusals are counted per participant, status code and kind of
# error in windows of REFUSAL_WINDOW_S: the first of a window is written at once (count 1, with its
# reason), and one more row at the end of the window says how many followed it. At most two rows per
# participant, code and kind a minute, whatever the rate of the attack.

REFUSAL_WINDOW_S = 60.0


@dataclass
class _Window:
    start_us: int
    first_reason: str
    more: int = 0
    last_us: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class RefusalTally:
    """Counts refusals and writes them as ``refused`` audit rows, at most two per key and window.

    ``append(events, at_us)`` is the store's ``append_audit`` (fire and forget). ``add`` answers whether
    this refusal opened a window, so that callers log the first of a flood and not every one.
    """

    def __init__(self, append: Callable[[Sequence[AuditEvent], int], object], window_s: float = REFUSAL_WINDOW_S,
                 clock: Callable[[], int] = now_us):
        self._append = append
        self._window_us = int(window_s * 1_000_000)
        self._clock = clock
        self._open: dict[tuple[str, str, str], _Window] = {}
        self._lock = threading.Lock()

    def add(self, actor: str, err: GatewayError, *, message_id: str = "", detail: dict[str, Any] | None = None) -> bool:
        key = (actor, err.grpc_code, type(err).__name__)
        now = self._clock()
        extra = dict(detail or {})
        with self._lock:
            w = self._open.get(key)
            if w is not None and now - w.start_us < self._window_us:
                w.more += 1
                w.last_us = now
                return False
            ended = [self._summary(key, w, now)] if w is not None and w.more else []
            self._open[key] = _Window(now, err.message[:200], last_us=now, detail=extra)
        first = AuditEvent(REFUSED, message_id, actor=actor, detail={
            **extra, "code": err.grpc_code, "reason": err.message[:200], "kind": key[2], "count": 1})
        self._append([*ended, first], now)
        return True

    def _summary(self, key: tuple[str, str, str], w: _Window, now: int) -> AuditEvent:
        return AuditEvent(REFUSED, "", actor=key[0], detail={
            **w.detail, "code": key[1], "reason": w.first_reason, "kind": key[2], "count": w.more,
            "from_us": w.start_us, "to_us": w.last_us, "aggregated": True})

    def flush(self, *, everything: bool = False) -> int:
        """Write the count rows of windows that ended (all of them with ``everything``); how many rows."""
        now = self._clock()
        events: list[AuditEvent] = []
        with self._lock:
            for key, w in list(self._open.items()):
                if everything or now - w.start_us >= self._window_us:
                    del self._open[key]
                    if w.more:
                        events.append(self._summary(key, w, now))
        if events:
            self._append(events, now)
        return len(events)

    async def run(self) -> None:
        """Flush ended windows a few times a window, until cancelled."""
        while True:
            await asyncio.sleep(self._window_us / 4_000_000)
            self.flush()
