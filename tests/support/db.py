"""Looking into a node's database from a test, whichever backend it is on."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from gateway.store import schema


def table_count(url: str, table: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())
    finally:
        engine.dispose()


def stored_values(url: str) -> Iterator[bytes]:
    """Every non-null value of every table, as bytes (text UTF-8 encoded)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for table in schema.metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    for value in row:
                        if isinstance(value, (bytes, memoryview)):
                            yield bytes(value)
                        elif value is not None:
                            yield str(value).encode()
    finally:
        engine.dispose()


def stored_envelope(url: str, message_id: str) -> bytes:
    """The sealed envelope a node stored for ``message_id``."""
    engine = create_engine(url, poolclass=NullPool)
    m = schema.messages
    try:
        with engine.connect() as conn:
            return bytes(conn.execute(select(m.c.envelope).where(m.c.message_id == message_id)).scalar_one())
    finally:
        engine.dispose()


def replace_envelope(url: str, message_id: str, data: bytes) -> None:
    """Overwrite a stored envelope, as someone with write access to the database could."""
    engine = create_engine(url, poolclass=NullPool)
    m = schema.messages
    try:
        with engine.begin() as conn:
            conn.execute(m.update().where(m.c.message_id == message_id).values(envelope=data))
    finally:
        engine.dispose()
