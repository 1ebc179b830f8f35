"""`[logging] format`: readable lines at a terminal, JSON lines for services."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import structlog

from gateway.config import load_node_config
from gateway.errors import ConfigError
from gateway.telemetry.logs import configure_logging

ROOT = Path(__file__).resolve().parents[3]


def _example_with(tmp_path: Path, logging_table: str) -> Path:
    text = (ROOT / "examples" / "de-node.toml").read_text()
    text = text.split("\n[logging]")[0] + "\n" + logging_table
    text = text.replace('"federation.toml"', f'"{ROOT / "examples" / "federation.toml"}"')
    text = text.replace("../certs-example", str(ROOT / "certs-example")).replace("../var", str(tmp_path))
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_the_examples_log_for_a_person_and_services_default_to_json(tmp_path: Path) -> None:
    assert load_node_config(ROOT / "examples" / "de-node.toml").log_format == "console"
    assert load_node_config(_example_with(tmp_path, "")).log_format == "json"


def test_an_unknown_format_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_node_config(_example_with(tmp_path, '[logging]\nformat = "xml"\n'))
    assert [p.field for p in info.value.problems] == ["logging.format"]


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_each_format_renders_one_line_per_event(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    saved = structlog.get_config()
    try:
        configure_logging("info", fmt=fmt)
        structlog.get_logger("t").info("peer link down", peer="fr-node")
    finally:
        structlog.configure(**saved)
    line = err.getvalue().strip()
    assert len(line.splitlines()) == 1
    if fmt == "json":
        assert json.loads(line)["event"] == "peer link down"
    else:
        assert "peer link down" in line and "peer=fr-node" in line and not line.startswith("{")
