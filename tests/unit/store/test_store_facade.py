"""The Store facade on a real SQLite file: accept, claim, acknowledge, fail and expire, awaited as the node
awaits them, with the states and audit entries they leave behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from gateway.errors import AlreadyExists
from gateway.evidence import audit
from gateway.store import Accepted, Claimed, NewDelivery, NewMessage, ReceiptRecord, Store
from gateway.store.states import ACKNOWLEDGED, EXPIRED, FAILED, IN_FLIGHT, QUEUED

T = TypeVar("T")
POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
T0 = 1_000_000


def message(mid: str, digest: bytes, expires_us: int = T0 + 10**12) -> NewMessage:
    return NewMessage(
        message_id=mid, conversation_id=mid, in_reply_to="", sender=POST, document_type="swg.aed.v1",
        submit_sha256=digest, envelope=b"sealed " + mid.encode(), envelope_sha256=digest, created_us=T0,
        expires_us=expires_us, accepted_us=T0, origin="local", attributes={}, item_ids=(f"item-{mid}",),
        deliveries=(NewDelivery(CUSTOMS, "local"),),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor=POST))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'facade.db'}")
    s.create_schema()
    yield s
    s.close()


def on_loop(call: Callable[[], Awaitable[T]]) -> T:
    """Await a facade call on a fresh event loop, as the node's servicers do."""
    async def main() -> T:
        return await call()
    return asyncio.run(main())


def claim(store: Store, now_us: int = T0 + 1) -> list[Claimed]:
    return on_loop(lambda: store.claim(recipient=CUSTOMS, route="local", owner="stream-1", limit=10,
                                       now_us=now_us, lease_us=60_000_000))


def state_of(store: Store, mid: str) -> int:
    return store.status(mid).deliveries[0].state


def test_accept_is_idempotent_for_the_same_content(store: Store) -> None:
    first = on_loop(lambda: store.accept(message("m1", b"\x01" * 32)))
    again = on_loop(lambda: store.accept(message("m1", b"\x01" * 32)))
    assert first == Accepted("m1", "m1", "swg.aed.v1", (CUSTOMS,), T0, False, b"\x01" * 32)
    assert again == Accepted("m1", "m1", "swg.aed.v1", (CUSTOMS,), T0, True, b"\x01" * 32)
    assert store.count("messages") == 1
    assert [e.event for e in store.audit_entries()] == [audit.ACCEPTED]
    assert state_of(store, "m1") == QUEUED


def test_accept_of_other_content_under_a_known_id_is_already_exists(store: Store) -> None:
    on_loop(lambda: store.accept(message("m1", b"\x01" * 32)))
    with pytest.raises(AlreadyExists):
        on_loop(lambda: store.accept(message("m1", b"\x02" * 32)))
    assert store.message("m1").envelope_sha256 == b"\x01" * 32


def test_claim_then_acknowledge_leaves_the_delivery_acknowledged_with_its_receipt(store: Store) -> None:
    on_loop(lambda: store.accept(message("m1", b"\x01" * 32)))
    claimed = claim(store)
    assert [(c.message_id, c.recipient, c.attempt) for c in claimed] == [("m1", CUSTOMS, 1)]
    assert state_of(store, "m1") == IN_FLIGHT
    receipt = ReceiptRecord("m1", CUSTOMS, "acknowledged", "jws", b"\x01" * 32, T0 + 2, "de-node")
    ack = audit.AuditEvent(audit.ACKNOWLEDGED, "m1", actor=CUSTOMS)
    outcome = on_loop(lambda: store.acknowledge(CUSTOMS, [receipt], [ack], T0 + 2))
    assert outcome.acknowledged == ["m1"]
    assert outcome.receipts == {"m1": receipt}
    assert state_of(store, "m1") == ACKNOWLEDGED
    assert store.receipts_of("m1") == [receipt]
    # Acknowledged twice: the first receipt stands and nothing more is recorded.
    later = ReceiptRecord("m1", CUSTOMS, "acknowledged", "jws-2", b"\x01" * 32, T0 + 3, "de-node")
    repeat = on_loop(lambda: store.acknowledge(CUSTOMS, [later], [ack], T0 + 3))
    assert repeat.acknowledged == [] and repeat.receipts == {"m1": receipt}
    assert [e.event for e in store.audit_entries()] == [audit.ACCEPTED, audit.ACKNOWLEDGED]


def test_fail_marks_the_claimed_delivery_failed_and_audits_it(store: Store) -> None:
    on_loop(lambda: store.accept(message("m1", b"\x01" * 32)))
    (claimed,) = claim(store)
    failed = audit.AuditEvent(audit.FAILED, "m1", subject=CUSTOMS, detail={"reason": "does not open"})
    on_loop(lambda: store.fail(claimed.delivery_id, "does not open", failed, T0 + 2))
    delivery = store.status("m1").deliveries[0]
    assert (delivery.state, delivery.last_error) == (FAILED, "does not open")
    assert claim(store, now_us=T0 + 10**9) == []
    assert [e.event for e in store.audit_entries()] == [audit.ACCEPTED, audit.FAILED]


def test_expire_turns_undelivered_deliveries_past_their_expiry_into_expired(store: Store) -> None:
    on_loop(lambda: store.accept(message("soon", b"\x01" * 32, expires_us=T0 + 100)))
    on_loop(lambda: store.accept(message("later", b"\x02" * 32)))
    expired = on_loop(lambda: store.expire(T0 + 100))
    assert [(d.message_id, d.state) for d in expired] == [("soon", QUEUED)]  # the record as it was found
    assert state_of(store, "soon") == EXPIRED
    assert state_of(store, "later") == QUEUED
    assert on_loop(lambda: store.expire(T0 + 100)) == []
    assert [e.event for e in store.audit_entries()] == [audit.ACCEPTED, audit.ACCEPTED, audit.EXPIRED]


def test_a_write_can_be_waited_for_from_a_thread_without_an_event_loop(store: Store) -> None:
    accepted = store.accept(message("m1", b"\x01" * 32)).result(10)
    assert accepted.duplicate is False
    assert store.message_exists("m1") == (b"\x01" * 32, POST)
