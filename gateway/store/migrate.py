"""Schema migrations (alembic) of a node database, for SQLite and PostgreSQL alike.

``upgrade`` brings a database to the newest revision; ``gateway db upgrade`` and a start with
``[database] auto_migrate = true`` call it. ``pending_changes`` compares the tables the code expects
(``schema.metadata``) with what the migrations built: a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from gateway.errors import GatewayError
from gateway.store.engine import sqlite_path, translate_db_error
from gateway.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


def current_revision(url: str) -> str | None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise translate_db_error(exc, "schema revision not read", sqlite_path(url)) from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> Upgrade:
    """Apply every migration up to ``revision``; a database already there is left untouched."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            if before is not None and before == head_revision() and revision == "head":
                return Upgrade(before, before)
            conn.commit()
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
            after = MigrationContext.configure(conn).get_current_revision()
        return Upgrade(before, after)
    except OperationalError as exc:
        raise translate_db_error(exc, "schema not migrated", sqlite_path(url)) from exc
    finally:
        engine.dispose()


def pending_changes(url: str) -> list[Any]:
    """Differences between ``schema.metadata`` and the database (alembic autogenerate); [] when in step."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


__all__ = ["GatewayError", "Upgrade", "current_revision", "head_revision", "pending_changes", "upgrade"]
