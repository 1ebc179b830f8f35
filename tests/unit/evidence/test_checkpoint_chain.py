"""Checkpoints form one chain (each signs the seq of the one before it), even with two signers at once; and
verify holds a log to the cadence of its checkpoint interval."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import envelope
from gateway.evidence import audit, auditor
from gateway.store import Store
from gateway.testing.federation import Federation

NODE = "de-node"
S = 1_000_000
T = int(time.time()) * S  # certificates of the session's federation are valid from its start: checkpoints are checked at their time


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'audit.db'}")
    s.create_schema()
    yield s
    s.close()


@pytest.fixture
def signer(federation: Federation) -> envelope.Signer:
    np = federation.paths.nodes[NODE]
    return envelope.Signer.from_files(np.token_key, np.token_cert)


def _append(store: Store, at_us: int, n: int = 1) -> None:
    store.append_audit([audit.AuditEvent(audit.RETRIED, f"m{at_us}-{i}") for i in range(n)], at_us).result()


def test_a_checkpoint_whose_previous_is_no_longer_the_newest_is_refused(store: Store, signer: envelope.Signer) -> None:
    _append(store, T + 10 * S, 3)
    head = store.audit_head()
    assert head is not None
    first = audit.sign_checkpoint(signer, NODE, head[0], head[1], T + 11 * S, prev=0)
    assert store.add_checkpoint(first).result()
    _append(store, T + 12 * S)
    head = store.audit_head()
    assert head is not None
    # A second signer that read the checkpoints before the first one was stored: its prev is stale.
    stale = audit.sign_checkpoint(signer, NODE, head[0], head[1], T + 13 * S, prev=0)
    assert not store.add_checkpoint(stale).result()
    made = auditor.make_checkpoint(store, signer, NODE, at_us=T + 13 * S)
    assert made is not None and made.prev == first.seq and made.seq == head[0]
    assert [c.seq for c in store.audit_checkpoints()] == [first.seq, made.seq]


def test_verify_checks_the_cadence_against_the_interval(store: Store, signer: envelope.Signer,
                                                        federation: Federation) -> None:
    _append(store, T + 100 * S, 2)
    auditor.make_checkpoint(store, signer, NODE, at_us=T + 101 * S)
    _append(store, T + 200 * S)
    # Interval 10 s: an entry may wait 2 x 10 + 1 s for its checkpoint.
    ok = auditor.verify_store(store, federation.trust, NODE, 10.0, now_us=T + 220 * S)
    assert ok.ok and not ok.warnings, ok.reason
    late = auditor.verify_store(store, federation.trust, NODE, 10.0, now_us=T + 222 * S)
    assert not late.ok and late.first_bad_seq == 3, late
    assert late.reason.startswith("entries 3..3 are covered by no signed checkpoint although entry 3 is 22.0 s old")
    # Covered late, but its signed link proves nothing is missing: a warning, not a broken log.
    auditor.make_checkpoint(store, signer, NODE, at_us=T + 240 * S)
    rep = auditor.verify_store(store, federation.trust, NODE, 10.0, now_us=T + 10_000 * S)
    assert rep.ok, rep
    assert len(rep.warnings) == 1 and "checkpoint at entry 3 was signed 40.0 s after entry 3" in rep.warnings[0]
    # A node without a checkpoint key is held to the chain only, and is told so.
    bare = auditor.verify_store(store, federation.trust, NODE, None, now_us=T + 10_000 * S)
    assert bare.ok and "signs no checkpoints" in bare.warnings[0]
