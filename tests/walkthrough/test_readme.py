"""The README's "Your first exchange", run line by line as a newcomer pastes it, against a fresh node.

The lines are read from README.md itself, so the walkthrough and this test cannot drift apart. The node and
the profiles are the bundled examples, copied to a temporary folder with only the port changed (so a
`make run` on this machine does not get in the way)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.testing.nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ADDRESS = "127.0.0.1:50051"


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your first exchange", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README.md: 'Your first exchange' has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


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


def paste(folder: Path, lines: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Each line in the same bash session, as typed: a line's failure is reported with its own output."""
    results = []
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    setup = ""
    for line in lines:
        if line.startswith("source "):
            setup += line.split("#", 1)[0] + "\n"
            continue
        done = subprocess.run(["bash", "-c", setup + line], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"README line failed: {line}\n{done.stdout}\n{done.stderr}"
        results.append(done)
    return results


def test_the_readme_walkthrough_works_when_pasted_line_by_line_and_again(checkout: Path) -> None:
    lines = walkthrough()
    assert lines[0].startswith("source .venv/bin/activate"), "the gateway command must be on PATH first"
    commands = [line.split()[1] for line in lines if not line.startswith("source ")]
    said: dict[str, list[str]] = {}
    for command, done in zip(commands, paste(checkout, lines), strict=True):
        said.setdefault(command, []).append(done.stdout + done.stderr)
    assert said["health"] == ["SERVING\n"]
    assert "VALID receipt" in said["evidence"][0]
    assert re.search(r"DE/CUSTOMS/MAIN\s+ACKNOWLEDGED", said["status"][0]), said["status"]
    assert said["audit"][0].startswith("OK:"), said["audit"]
    assert "DE/POST/MAIN" in said["kpi"][0]
    inbox = checkout / "inbox"
    assert (inbox / "customs" / "first-items.json").exists()
    assert (inbox / "customs" / "first-items.receipt.jws").exists()
    assert (inbox / "post" / "first-decisions.xml").exists(), sorted(p.name for p in (inbox / "post").iterdir())
    assert any((inbox / "tax").glob("*.meta.json")), "the tax authority receives the decisions and revenue"

    again = paste(checkout, lines)
    assert any("(duplicate)" in r.stdout for r in again), "a resubmitted message id answers as a duplicate"
    assert all("Traceback" not in r.stderr for r in again)
