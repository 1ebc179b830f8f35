"""Alembic environment of the node database.

Run through ``gateway.store.migrate`` (``gateway db upgrade`` or auto_migrate at start), which hands
over an open connection in ``config.attributes["connection"]``; ``alembic`` on the command line works
too when ``sqlalchemy.url`` is set (e.g. ``alembic -x url=... revision --autogenerate``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from gateway.store.schema import metadata

# Any fixed 64-bit number, the same in every replica: concurrent upgrades of one database take turns.
MIGRATION_LOCK_ID = 0x5357_4744_4201


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas that start together must not race each other through the same revision.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic needs -x url=... or sqlalchemy.url for the database to migrate")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `gateway db upgrade`")
run_migrations_online()
