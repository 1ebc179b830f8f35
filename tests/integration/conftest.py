from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support.pki import Federation


class SingleNode:
    """de-node of the example federation on loopback, with clients for its participants."""

    def __init__(self, fed: Federation, tmp: Path, **config: str):
        self.fed = fed
        self.tmp = tmp
        self.port = free_port()
        self.directory = write_directory(fed, tmp, {"de-node": self.port, "fr-node": free_port()})
        self.config = write_node_config(fed, tmp, "de-node", self.port, self.directory, **config)
        self.runner = NodeRunner(self.config).start()
        self.clients: list = []

    @property
    def db_path(self) -> Path:
        return self.tmp / "de-node.db"

    def client(self, participant: str, **kw):  # type: ignore[no-untyped-def]
        c = connect(self.fed, "de-node", self.runner.address, participant, **kw)
        self.clients.append(c)
        return c

    def restart(self) -> None:
        self.runner.stop()
        self.runner.start()

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.runner.close()


@pytest.fixture
def de_node(federation: Federation, tmp_path: Path) -> Iterator[SingleNode]:
    node = SingleNode(federation, tmp_path)
    try:
        yield node
    finally:
        node.close()
