"""Fault suite: its summary (faults injected, messages accepted / delivered / lost) at the end of the run."""

from __future__ import annotations

from typing import Any

from tests.support import tally


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = tally.fault_lines()
    if lines:
        terminalreporter.write_sep("=", "faults: injected, and what became of accepted messages")
        for line in lines:
            terminalreporter.write_line(line)
