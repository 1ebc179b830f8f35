"""What the node database holds: rows and bytes per table, and the oldest delivery not finished yet.

Bytes per table include the table's indexes. SQLite: from the ``dbstat`` virtual table when the library
has it (pages actually used by each b-tree), else only the file's page counts; PostgreSQL:
``pg_total_relation_size`` (heap, indexes, TOAST). Row counts are exact (``count(*)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import OperationalError

import gateway.store.schema as t
from gateway.store.states import NAMES, TERMINAL


@dataclass(frozen=True)
class TableStats:
    name: str
    rows: int
    bytes: int | None  # None: this database cannot say (SQLite without dbstat)


@dataclass(frozen=True)
class OldestDelivery:
    message_id: str
    recipient: str
    route: str
    state: str
    created_us: int
    attempts: int


@dataclass(frozen=True)
class DbStats:
    dialect: str
    method: str  # how bytes were measured
    tables: tuple[TableStats, ...]
    database_bytes: int  # the whole database: SQLite file pages (free ones too), PostgreSQL pg_database_size
    free_bytes: int | None  # SQLite: pages on the freelist, reused before the file grows
    unfinished: int
    oldest: OldestDelivery | None


def collect(conn: Connection) -> DbStats:
    dialect = conn.dialect.name
    names = sorted(t.metadata.tables)
    rows = {n: int(conn.execute(select(func.count()).select_from(t.metadata.tables[n])).scalar_one()) for n in names}
    sizes: dict[str, int] | None
    if dialect == "sqlite":
        page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
        sizes, method = _sqlite_sizes(conn), "dbstat"
        if sizes is None:
            method = "page counts (this SQLite has no dbstat: no per-table bytes)"
        database_bytes, free_bytes = pages * page_size, free * page_size
    else:
        sizes = {n: int(conn.execute(text("SELECT pg_total_relation_size(CAST(:n AS regclass))"), {"n": n}).scalar_one())
                 for n in names}
        method = "pg_total_relation_size"
        database_bytes = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        free_bytes = None
    tables = tuple(TableStats(n, rows[n], None if sizes is None else sizes.get(n, 0)) for n in names)
    d = t.deliveries
    open_states = [s for s in NAMES if s not in TERMINAL]
    unfinished = int(conn.execute(select(func.count()).select_from(d).where(d.c.state.in_(open_states))).scalar_one())
    r = conn.execute(select(d.c.message_id, d.c.recipient, d.c.route, d.c.state, d.c.created_us, d.c.attempts)
                     .where(d.c.state.in_(open_states)).order_by(d.c.created_us, d.c.id).limit(1)).first()
    oldest = None if r is None else OldestDelivery(r.message_id, r.recipient, r.route, NAMES.get(r.state, str(r.state)),
                                                   int(r.created_us), int(r.attempts))
    return DbStats(dialect, method, tables, database_bytes, free_bytes, unfinished, oldest)


def _sqlite_sizes(conn: Connection) -> dict[str, int] | None:
    """Bytes of pages used by each table and its indexes, or None without the dbstat virtual table."""
    try:
        used = conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").all()
    except OperationalError:
        return None
    owner = {str(name): str(table) for name, table in
             conn.exec_driver_sql("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all()}
    sizes: dict[str, int] = {}
    for name, size in used:
        table = owner.get(str(name), str(name))
        sizes[table] = sizes.get(table, 0) + int(size or 0)
    return sizes
