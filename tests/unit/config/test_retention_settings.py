"""`[retention]`: absent means messages stay for good; every bad key is named, as `gateway config check` prints it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_node_config
from tests.unit.config.test_settings_errors import _base, _problems, _write


def _with_retention(**table: Any) -> dict[str, Any]:
    data = _base()
    data["retention"] = table
    return data


def test_without_a_retention_section_nothing_is_archived(tmp_path: Path) -> None:
    assert load_node_config(_write(tmp_path, _base())).retention is None


def test_retention_settings_and_their_defaults(tmp_path: Path) -> None:
    cfg = load_node_config(_write(tmp_path, _with_retention(keep_days=30, archive_dir="archives")))
    assert cfg.retention is not None
    assert cfg.retention.keep_days == 30 and cfg.retention.archive_dir == (tmp_path / "archives").resolve()
    assert cfg.retention.interval_s == 3600.0 and cfg.retention.batch == 1000


@pytest.mark.parametrize(("table", "expected"), [
    ({"archive_dir": "a"}, ("retention.keep_days", "missing (days a final message stays in the database)")),
    ({"keep_days": 30}, ("retention.archive_dir", "missing")),
    ({"keep_days": -1, "archive_dir": "a"}, ("retention.keep_days", "must be >= 0")),
    ({"keep_days": "30", "archive_dir": "a"}, ("retention.keep_days", "must be a number")),
    ({"keep_days": float("nan"), "archive_dir": "a"}, ("retention.keep_days", "must be a number of days <= 36500")),
    ({"keep_days": 30, "archive_dir": "a", "interval_s": 0.5}, ("retention.interval_s", "must be >= 1")),
    ({"keep_days": 30, "archive_dir": "a", "batch": 0}, ("retention.batch", "must be >= 1")),
    ({"keep_days": 30, "archive_dir": "a", "keep": 1}, ("retention.keep", "unknown key")),
    ({"keep_days": 30, "archive_dir": "ca.crt"}, ("retention.archive_dir", "not a folder: {tmp}/ca.crt")),
])
def test_bad_retention_settings_are_named(tmp_path: Path, table: dict[str, Any], expected: tuple[str, str]) -> None:
    key, reason = expected
    assert (key, reason.format(tmp=tmp_path.resolve())) in _problems(tmp_path, _with_retention(**table))
