"""A real de-node (example federation, SQLite in the test's tmp dir) loaded without a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.node import Node
from gateway.testing import Federation, load_node


@pytest.fixture
def node(federation: Federation, tmp_path: Path) -> Iterator[Node]:
    n = load_node(federation, tmp_path, "de-node", limits="max_message_bytes = 4096\ndefault_ttl_s = 3600\nmax_ttl_s = 86400")
    try:
        yield n
    finally:
        n.close()
