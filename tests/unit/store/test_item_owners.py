"""Item ownership and split documents in the store: who may declare an item where, in batches and alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection

from gateway.errors import FailedPrecondition
from gateway.evidence import audit
from gateway.store import Accepted, NewDelivery, NewMessage, Store, messages
from gateway.store.audit_log import ITEMS_UPDATED

DE_POST, FR_POST, CUSTOMS, FR_CUSTOMS, TAX = ("DE/POST/MAIN", "FR/POST/MAIN", "DE/CUSTOMS/MAIN", "FR/CUSTOMS/MAIN",
                                              "DE/TAX/MAIN")


def aed(mid: str, sender: str, items: tuple[str, ...], to: str = CUSTOMS, at: int = 1_000) -> NewMessage:
    return NewMessage(
        message_id=mid, conversation_id=mid, in_reply_to="", sender=sender, document_type="swg.aed.v1",
        submit_sha256=mid.encode().ljust(32, b"."), envelope=b"sealed " + mid.encode(),
        envelope_sha256=mid.encode().ljust(32, b"."), created_us=at, expires_us=at + 10**12, accepted_us=at,
        origin="local", attributes={}, item_ids=items, deliveries=(NewDelivery(to, "local"),),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor=sender))


def decision(mid: str, to: tuple[str, ...], document_type: str = "swg.inspection.v1",
             parts: tuple[NewMessage, ...] = ()) -> NewMessage:
    return NewMessage(
        message_id=mid, conversation_id="conv", in_reply_to="", sender=CUSTOMS, document_type=document_type,
        submit_sha256=None if not mid.startswith("dec") else mid.encode().ljust(32, b"."),
        envelope=b"sealed " + mid.encode(), envelope_sha256=mid.encode().ljust(32, b"."), created_us=5, expires_us=10**12,
        accepted_us=5, origin="local", attributes={}, item_ids=(), deliveries=tuple(NewDelivery(r, "local") for r in to),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor=CUSTOMS), parts=parts)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(f"sqlite:///{tmp_path / 'o.db'}")
    s.create_schema()
    yield s
    s.close()


def one_batch(store: Store, msgs: list[NewMessage]) -> list[object]:
    """Accept ``msgs`` in one writer batch (buffered first, as under load); outcomes in order."""
    gate = threading.Event()

    def hold(conn: Connection) -> None:
        gate.wait(10)

    first = store._writer.submit(hold)
    futures = [store._writer.submit(messages.accept(m)) for m in msgs]
    gate.set()
    first.result(10)
    out: list[object] = []
    for f in futures:
        try:
            out.append(f.result(10))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            out.append(exc)
    return out


def alone(store: Store, msg: NewMessage) -> object:
    return one_batch(store, [msg])[0]


def chain_ok(store: Store) -> None:
    report = audit.verify_chain(store.audit_entries(), store.audit_head())
    assert report.ok, report


def test_the_first_sender_owns_an_item_and_anothers_aed_for_it_is_refused_naming_it(store: Store) -> None:
    assert isinstance(alone(store, aed("a1", DE_POST, ("RR1", "RR2"))), Accepted)
    refused = alone(store, aed("b1", FR_POST, ("RR9", "RR8", "RR7", "RR2")))
    assert isinstance(refused, FailedPrecondition)
    assert refused.message == f"items[3].item_id: RR2 was declared to {CUSTOMS} by another sender"
    assert store.count("messages") == 1 and store.owners_of_items(["RR1", "RR2", "RR9"], CUSTOMS) == {
        "RR1": DE_POST, "RR2": DE_POST}
    # Ownership is per recipient: declaring the same id to French customs is another matter.
    assert isinstance(alone(store, aed("b2", FR_POST, ("RR2",), to=FR_CUSTOMS)), Accepted)
    assert store.owners_of_items(["RR2"], FR_CUSTOMS) == {"RR2": FR_POST}
    assert store.declarations_of_items(["RR2"], CUSTOMS) == {"RR2": "a1"}
    chain_ok(store)


def test_the_owner_declares_again_the_new_aed_counts_and_the_update_is_audited(store: Store) -> None:
    alone(store, aed("a1", DE_POST, ("RR1", "RR2")))
    assert isinstance(alone(store, aed("a2", DE_POST, ("RR2", "RR3"), at=2_000)), Accepted)
    assert store.declarations_of_items(["RR1", "RR2", "RR3"], CUSTOMS) == {"RR1": "a1", "RR2": "a2", "RR3": "a2"}
    [entry] = [e for e in store.audit_entries() if e.event == ITEMS_UPDATED]
    assert (entry.message_id, entry.actor, entry.subject) == ("a2", DE_POST, CUSTOMS)
    assert entry.detail == audit.canonical_detail({"items": 1, "item_ids": ["RR2"], "replaces": ["a1"]})
    chain_ok(store)


def test_in_one_batch_the_first_claim_wins_and_the_owners_later_aed_is_its_declaration(store: Store) -> None:
    alone(store, aed("stored", DE_POST, ("RR5",)))
    out = one_batch(store, [
        aed("a1", DE_POST, ("RR1",)),
        aed("b1", FR_POST, ("RR1", "RR2")),  # RR1 claimed earlier in the same batch
        aed("a2", DE_POST, ("RR1", "RR5"), at=1_001),  # the owner again: in the batch, and stored before
        aed("b2", FR_POST, ("RR2",)),
        aed("b3", FR_POST, ("RR5",)),  # owned by DE/POST since an earlier batch
    ])
    assert [type(o).__name__ for o in out] == ["Accepted", "FailedPrecondition", "Accepted", "Accepted",
                                               "FailedPrecondition"]
    assert "items[0].item_id: RR1 was declared" in str(out[1]) and "items[0].item_id: RR5" in str(out[4])
    assert store.owners_of_items(["RR1", "RR2", "RR5"], CUSTOMS) == {"RR1": DE_POST, "RR2": FR_POST, "RR5": DE_POST}
    assert store.declarations_of_items(["RR1", "RR5"], CUSTOMS) == {"RR1": "a2", "RR5": "a2"}
    assert [e.message_id for e in store.audit_entries() if e.event == ITEMS_UPDATED] == ["a2"]
    chain_ok(store)


def test_the_same_sender_twice_in_one_buffered_batch_needs_no_rerun(store: Store) -> None:
    alone(store, aed("a0", DE_POST, ("RR1",)))
    out = one_batch(store, [aed(f"a{i}", DE_POST, ("RR1", f"RX{i}"), at=1_000 + i) for i in range(1, 20)])
    assert all(isinstance(o, Accepted) for o in out)
    assert store.declarations_of_items(["RR1", "RX1", "RX19"], CUSTOMS) == {"RR1": "a19", "RX1": "a1", "RX19": "a19"}
    # Settled once at the end of the buffered batch (a rerun op by op would interleave the entries).
    assert [e.event for e in store.audit_entries()][1:] == [audit.ACCEPTED] * 19 + [ITEMS_UPDATED] * 19
    updated = [e for e in store.audit_entries() if e.event == ITEMS_UPDATED]
    assert len(updated) == 19 and updated[-1].detail == audit.canonical_detail(
        {"items": 1, "item_ids": ["RR1"], "replaces": ["a18"]})
    chain_ok(store)


def test_a_split_document_is_stored_with_its_parts_and_shows_their_deliveries(store: Store) -> None:
    parts = (decision("dec-1.part-a", (DE_POST,), "swg.inspection.v1"), decision("dec-1.part-b", (FR_POST,)))
    first = alone(store, decision("dec-1", (TAX,), parts=parts))
    assert isinstance(first, Accepted) and first.recipients == (TAX, DE_POST, FR_POST)
    assert store.parts_of("dec-1") == {"dec-1.part-a": DE_POST, "dec-1.part-b": FR_POST}
    st = store.status("dec-1")
    assert [(d.message_id, d.recipient) for d in st.deliveries] == [
        ("dec-1", TAX), ("dec-1.part-a", DE_POST), ("dec-1.part-b", FR_POST)]
    assert [d.recipient for d in store.status("dec-1.part-b").deliveries] == [FR_POST]
    # Submitted again: the first answer, with every recipient, and no second set of parts.
    again = alone(store, decision("dec-1", (TAX,), parts=(decision("dec-1.part-c", (DE_POST,)),)))
    assert isinstance(again, Accepted) and again.duplicate and again.recipients == (TAX, DE_POST, FR_POST)
    assert store.count("messages") == 3 and store.queue_depths() == {TAX: 1, DE_POST: 1, FR_POST: 1}
    chain_ok(store)


def test_a_split_document_without_other_recipients_is_stored_without_deliveries_of_its_own(store: Store) -> None:
    out = one_batch(store, [decision("dec-2", (), parts=(decision("dec-2.part-a", (DE_POST,)),)),
                            decision("dec-3", (), parts=(decision("dec-3.part-a", (FR_POST,)),))])
    assert [o.recipients for o in out] == [(DE_POST,), (FR_POST,)]  # type: ignore[attr-defined]
    assert [d.recipient for d in store.status("dec-2").deliveries] == [DE_POST]
