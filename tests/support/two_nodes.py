"""de-node and fr-node of the example federation, both on loopback, peering with each other."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.db import stored_values
from gateway.testing.nodes import (
    Client,
    NodeRunner,
    connect,
    default_database_url,
    free_port,
    write_directory,
    write_node_config,
)
from gateway.testing.federation import Federation

FAST_RETRY = """retry_initial_s = 0.2
retry_max_s = 1.0
retry_multiplier = 2.0
retry_jitter = 0.2
"""


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


class TwoNodes:
    def __init__(self, fed: Federation, tmp: Path, *, extra_directory: str = "", delivery: str = FAST_RETRY,
                 limits: dict[str, str] | None = None):
        self.fed = fed
        self.tmp = tmp
        self.ports = {"de-node": free_port(), "fr-node": free_port()}
        self.directory = write_directory(fed, tmp, self.ports, extra_directory)
        self.db_urls = {n: default_database_url(n, tmp) for n in self.ports}
        self.configs = {n: write_node_config(fed, tmp, n, p, self.directory, delivery=delivery,
                                             database_url=self.db_urls[n], limits=(limits or {}).get(n, ""))
                        for n, p in self.ports.items()}
        self.runners = {n: NodeRunner(c).start() for n, c in self.configs.items()}
        self.clients: list[Client] = []

    def client(self, node: str, participant: str, **kw: Any) -> Client:
        c = connect(self.fed, node, self.runners[node].address, participant, **kw)
        self.clients.append(c)
        return c

    def db_bytes(self, node: str) -> bytes:
        """Everything the node's database holds: the SQLite files byte for byte (free pages and WAL
        included), or every stored value on PostgreSQL."""
        url = self.db_urls[node]
        if url.startswith("sqlite"):
            return b"".join(p.read_bytes() for p in self.tmp.glob(f"{node}.db*"))
        return b"\n".join(stored_values(url))

    def close(self) -> None:
        for c in self.clients:
            c.close()
        for r in self.runners.values():
            r.close()
