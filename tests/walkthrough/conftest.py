"""A fresh copy of the bundled example federation with its de-node running, as after `make run`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ADDRESS = "127.0.0.1:50051"


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    """A copy of what a fresh clone has after `make run`: examples, the demo PKI, the venv."""
    for part in ("examples", "certs-example"):
        shutil.copytree(ROOT / part, tmp_path / part)
    venv = Path(sys.prefix)
    (tmp_path / ".venv").symlink_to(venv)
    address = f"127.0.0.1:{free_port()}"
    for toml in [tmp_path / "examples" / "de-node.toml", *(tmp_path / "examples" / "clients").glob("*.toml")]:
        toml.write_text(toml.read_text().replace(EXAMPLE_ADDRESS, address))
    node = subprocess.Popen([str(venv / "bin" / "gateway"), "serve", "--config", "examples/de-node.toml"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = node.stdout.readline()  # type: ignore[union-attr]
    assert "listening on" in line, node.stderr.read()  # type: ignore[union-attr]
    yield tmp_path
    node.terminate()
    node.wait(timeout=30)
