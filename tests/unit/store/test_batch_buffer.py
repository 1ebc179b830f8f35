"""Buffered group commit (gateway.store.batch): a batch of accepts written at its end still answers each
submit exactly as one by one would, duplicates included, and leaves an unbroken audit chain."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection

from gateway.evidence import audit
from gateway.errors import AlreadyExists
from gateway.store import Accepted, NewDelivery, NewMessage, Store, audit_queries, messages

POST, CUSTOMS, TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"


def message(mid: str, digest: bytes, recipients: tuple[str, ...] = (CUSTOMS, TAX), at: int = 1_000) -> NewMessage:
    return NewMessage(
        message_id=mid, conversation_id=mid, in_reply_to="", sender=POST, document_type="swg.aed.v1",
        submit_sha256=digest, envelope=b"sealed " + mid.encode(), envelope_sha256=digest, created_us=at,
        expires_us=at + 10**12, accepted_us=at, origin="local", attributes={"destination_country": "DE"},
        item_ids=(f"item-{mid}",), deliveries=tuple(NewDelivery(r, "local") for r in recipients),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor=POST, detail={"n": mid}))


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(f"sqlite:///{tmp_path / 'b.db'}")
    s.create_schema()
    yield s
    s.close()


def one_batch(store: Store, ops: list) -> list:  # type: ignore[type-arg]
    """Run ``ops`` as one writer batch (the writer is held busy while they queue); outcomes in order."""
    gate = threading.Event()

    def hold(conn: Connection) -> None:
        gate.wait(10)

    first = store._writer.submit(hold)
    futures = [store._writer.submit(op) for op in ops]
    gate.set()
    first.result(10)
    outcomes = []
    for f in futures:
        try:
            outcomes.append(f.result(10))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes.append(exc)
    return outcomes


def chain_ok(store: Store) -> audit.ChainReport:
    report = audit.verify_chain(store.audit_entries(), store.audit_head())
    assert report.ok, report
    return report


def test_a_batch_of_new_messages_is_stored_whole_with_one_audit_entry_each(store: Store) -> None:
    outcomes = one_batch(store, [messages.accept(message(f"m{i}", bytes([i]) * 32)) for i in range(50)])
    assert all(isinstance(o, Accepted) and not o.duplicate for o in outcomes)
    assert [o.message_id for o in outcomes] == [f"m{i}" for i in range(50)]
    for i in (0, 49):
        st = store.status(f"m{i}")
        assert [d.recipient for d in st.deliveries] == [CUSTOMS, TAX]
    assert store.queue_depths() == {CUSTOMS: 50, TAX: 50}
    # The chain head follows the last entry: a second batch continues it.
    one_batch(store, [messages.accept(message(f"n{i}", bytes([100 + i]) * 32)) for i in range(3)])
    assert [e.message_id for e in store.audit_entries()] == [f"m{i}" for i in range(50)] + ["n0", "n1", "n2"]
    chain_ok(store)


def test_duplicates_in_a_batch_get_the_first_answer_and_different_content_is_refused_alone(store: Store) -> None:
    store.accept(message("stored", b"\x01" * 32, recipients=(CUSTOMS,))).result()
    outcomes = one_batch(store, [
        messages.accept(message("a", b"\x02" * 32)),
        messages.accept(message("stored", b"\x01" * 32)),  # a retry of the stored one: its first answer
        messages.accept(message("stored", b"\x09" * 32)),  # same id, other content
        messages.accept(message("b", b"\x03" * 32)),
        messages.accept(message("b", b"\x03" * 32)),  # the same submit twice in one batch
    ])
    a, retry, clash, b1, b2 = outcomes
    assert isinstance(a, Accepted) and not a.duplicate
    assert isinstance(retry, Accepted) and retry.duplicate and retry.recipients == (CUSTOMS,)
    assert isinstance(clash, AlreadyExists)
    assert isinstance(b1, Accepted) and not b1.duplicate
    assert isinstance(b2, Accepted) and b2.duplicate and b2.recipients == (CUSTOMS, TAX)
    accepted = [e.message_id for e in store.audit_entries() if e.event == audit.ACCEPTED]
    assert accepted == ["stored", "a", "b"]
    assert store.queue_depths() == {CUSTOMS: 3, TAX: 2}
    chain_ok(store)


def test_other_writes_in_the_batch_chain_their_audit_entries_in_order(store: Store) -> None:
    ev = audit.AuditEvent(audit.REFUSED, "x", actor=POST, detail={"code": 3})
    outcomes = one_batch(store, [
        messages.accept(message("a", b"\x02" * 32)),
        audit_queries.append([ev, ev], 2_000),
        messages.accept(message("b", b"\x03" * 32)),
    ])
    assert outcomes[1] == [2, 3]
    assert [(e.seq, e.event) for e in store.audit_entries()] == [
        (1, audit.ACCEPTED), (2, audit.REFUSED), (3, audit.REFUSED), (4, audit.ACCEPTED)]
    chain_ok(store)
