"""The README's "Your first exchange", run line by line as a newcomer pastes it, against a fresh node.

The lines are read from README.md itself, so the walkthrough and this test cannot drift apart. The node and
the profiles are the bundled examples, copied to a temporary folder with only the port changed (so a
`make run` on this machine does not get in the way)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your first exchange", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README.md: 'Your first exchange' has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


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
    assert "RR100000017FR" in said["item"][0] and "first-items" in said["item"][0], said["item"]
    assert "DE/POST/MAIN" in said["kpi"][0]
    inbox = checkout / "inbox"
    assert (inbox / "customs" / "first-items.json").exists()
    assert (inbox / "customs" / "first-items.receipt.jws").exists()
    assert (inbox / "post" / "first-decisions.xml").exists(), sorted(p.name for p in (inbox / "post").iterdir())
    assert any((inbox / "tax").glob("*.meta.json")), "the tax authority receives the decisions and revenue"

    again = paste(checkout, lines)
    assert any("(duplicate)" in r.stdout for r in again), "a resubmitted message id answers as a duplicate"
    assert all("Traceback" not in r.stderr for r in again)
