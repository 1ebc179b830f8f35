"""The schema is managed by migrations, and the migrations build exactly what the code expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.store import migrate
from gateway.testing.nodes import default_database_url, write_directory, write_node_config
from gateway.testing.federation import Federation


def test_migrated_database_matches_the_models(database_backend: str, tmp_path: Path) -> None:
    url = default_database_url("de-node", tmp_path)
    first = migrate.upgrade(url)
    assert first.before is None and first.after == migrate.head_revision()
    assert migrate.pending_changes(url) == []
    again = migrate.upgrade(url)
    assert not again.changed


def test_db_upgrade_command_migrates_the_configured_database(database_backend: str, federation: Federation,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = write_directory(federation, tmp_path, {"de-node": 50051, "fr-node": 50052})
    config = write_node_config(federation, tmp_path, "de-node", 50051, directory)

    def gateway(*args: str) -> tuple[int, str]:
        code = main(["db", *args, "--config", str(config)])
        return code, capsys.readouterr().out.strip()

    head = migrate.head_revision()
    assert gateway("status") == (1, f"database at empty (no schema); newest revision {head}")
    assert gateway("upgrade") == (0, f"database upgraded from empty to {head}")
    assert gateway("upgrade") == (0, f"database already at {head}")
    assert gateway("status") == (0, f"database at {head}; newest revision {head}")


def test_upgrade_to_item_owners_makes_the_first_declarer_of_each_item_its_owner(database_backend: str,
                                                                                 tmp_path: Path) -> None:
    """Migration 0004 backfills ``item_owners`` from the AEDs stored before it (a squat among them)."""
    import sqlalchemy as sa

    import gateway.store.schema as t

    url = default_database_url("de-node", tmp_path)
    migrate.upgrade(url, "0003")
    de_post, fr_post, customs, fr_customs = "DE/POST/MAIN", "FR/POST/MAIN", "DE/CUSTOMS/MAIN", "FR/CUSTOMS/MAIN"
    stored = [  # message, sender, type, items, recipient, accepted at
        ("m1", de_post, "swg.aed.v1", ["RR1", "RR2"], customs, 1),
        ("m2", fr_post, "swg.aed.v1", ["RR2", "RR3"], customs, 2),  # RR2 again, by another post
        ("m3", de_post, "swg.aed.v1", ["RR2"], customs, 3),  # the owner's update
        ("m4", fr_post, "swg.aed.v1", ["RR1"], fr_customs, 4),  # another customs
        ("m5", customs, "swg.inspection.v1", ["RR1"], fr_post, 5),  # not a declaration
    ]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for mid, sender, dtype, items, to, at in stored:
                conn.execute(sa.insert(t.messages).values(
                    message_id=mid, conversation_id=mid, in_reply_to="", sender=sender, document_type=dtype,
                    envelope=b"x", envelope_sha256=bytes(32), created_us=at, expires_us=10**12, accepted_us=at,
                    origin="local", attributes="{}"))
                conn.execute(sa.insert(t.message_items), [
                    {"item_id": i, "message_id": mid, "sender": sender, "document_type": dtype, "accepted_us": at}
                    for i in items])
                conn.execute(sa.insert(t.deliveries).values(
                    message_id=mid, recipient=to, route="local", state=1, attempts=0, next_attempt_us=at,
                    last_error="", created_us=at, updated_us=at, expires_us=10**12, sender=sender,
                    document_type=dtype))
        assert migrate.upgrade(url).after == migrate.head_revision()
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.item_owners).order_by(t.item_owners.c.item_id,
                                                                  t.item_owners.c.declared_to)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("RR1", customs, de_post, "m1", 1, 1),
        ("RR1", fr_customs, fr_post, "m4", 4, 4),
        ("RR2", customs, de_post, "m3", 1, 3),
        ("RR3", customs, fr_post, "m2", 2, 2),
    ]
    assert migrate.pending_changes(url) == []


def test_upgrade_to_the_merkle_log_hashes_the_entries_logged_before_it(database_backend: str, tmp_path: Path) -> None:
    """Migration 0005 fills ``audit_tree`` from the existing log, and the writer then extends that tree."""
    import sqlalchemy as sa

    import gateway.store.schema as t
    from gateway.evidence import audit, merkle
    from gateway.store import Store
    from gateway.store.audit_log import entry_hash, leaf_bytes
    from tests.support.rfc9162 import rfc_mth

    url = default_database_url("de-node", tmp_path)
    migrate.upgrade(url, "0004")
    engine = sa.create_engine(url)
    prev = bytes(32)
    try:
        with engine.begin() as conn:
            for seq in range(1, 14):
                h = entry_hash(seq, seq, "accepted", f"m{seq}", "DE/POST/MAIN", "", "{}", prev)
                conn.execute(sa.insert(t.audit_log).values(seq=seq, at_us=seq, event="accepted", message_id=f"m{seq}",
                                                           actor="DE/POST/MAIN", subject="", detail="{}",
                                                           prev_hash=prev, entry_hash=h))
                prev = h
            conn.execute(sa.update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=13, entry_hash=prev))
        assert migrate.upgrade(url).after == migrate.head_revision()
    finally:
        engine.dispose()
    store = Store(url)
    try:
        store.append_audit([audit.AuditEvent(audit.DELIVERED, f"n{i}") for i in range(3)], 100).result()
        leaves = [leaf_bytes(e) for e in store.audit_entries()]
        assert len(leaves) == 16
        for size in (1, 13, 16):
            assert merkle.root(size, store.audit_tree_nodes) == rfc_mth(leaves[:size])
    finally:
        store.close()
