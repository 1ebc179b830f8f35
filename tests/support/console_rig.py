"""What the console's browser tests share: the rig (a real node, the real console process), users, paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.testing.nodes import Client, NodeRunner

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "console-screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORDS = {"olga": ("operator", "olga-operator-pass"), "victor": ("viewer", "victor-viewer-pass"),
             "anna": ("auditor", "anna-auditor-pass")}
POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


@dataclass
class ConsoleRig:
    url: str
    runner: NodeRunner
    post: Client
    customs: Client
    users_file: Path

    def node(self) -> Any:
        return self.runner.node
