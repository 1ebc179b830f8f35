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
