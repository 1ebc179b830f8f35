"""A claim walks the recipient's queue in order and stops at its limit: its queries never collect and sort
the whole queue (which made each claim cost time in proportion to the backlog; docs/performance.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from gateway.store import Store


def claim_queries(store: Store, **claim: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM deliveries" in statement:
            seen.append((statement, parameters))

    engine = store._write_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        store.claim(owner="o", limit=64, now_us=1_000, lease_us=10_000, **claim).result()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_claim_queries_walk_an_index_in_order_without_sorting_the_queue(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_schema()
    try:
        for claim in ({"recipient": "DE/CUSTOMS/MAIN", "route": "local"},
                      {"recipient": "DE/CUSTOMS/MAIN", "route": "local", "document_types": ["swg.aed.v1"]},
                      {"recipient": None, "route": "fr-node"}):
            queries = claim_queries(store, **claim)
            assert len(queries) == 2, claim  # expired leases, then queued
            with store._read_engine.connect() as conn:
                for sql, params in queries:
                    plan = " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
                    assert "TEMP B-TREE" not in plan, (claim, plan)
                    assert ("ix_deliveries_claim" if claim["recipient"] else "ix_deliveries_route_state") in plan, plan
    finally:
        store.close()
