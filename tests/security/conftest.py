"""Fixtures of the security suite and its summary (attacks tried and refused) at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.harness import SecurityNode
from tests.support import tally
from gateway.testing.federation import Federation


@pytest.fixture(scope="module")
def secnode(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityNode]:
    node = SecurityNode(federation, tmp_path_factory.mktemp("secnode"))
    try:
        yield node
    finally:
        node.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = tally.security_lines()
    if lines:
        terminalreporter.write_sep("=", "security: attacks tried and refused")
        for line in lines:
            terminalreporter.write_line(line)
