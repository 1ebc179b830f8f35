from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.testing.nodes import (
    NodeRunner,
    connect,
    default_database_url,
    free_port,
    use_databases,
    write_directory,
    write_node_config,
)
from tests.support.pg import PostgresServer
from gateway.testing.federation import Federation
from tests.support.two_nodes import TwoNodes

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every integration test runs on SQLite and on PostgreSQL; those marked `postgres` only on PostgreSQL.
    if "database_backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgres") is not None:
        params = [pytest.param("postgresql", id="postgresql")]
    else:
        params = [pytest.param("sqlite", id="sqlite"),
                  pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]
    metafunc.parametrize("database_backend", params, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server per test session, started on first use."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def database_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend of this test's nodes: node configs written during the test get a database on it."""
    backend: str = request.param
    if backend == "sqlite":
        use_databases(None)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        per_node: dict[str, str] = {}

        def choose(node: str, _out: Path) -> str:
            if node not in per_node:
                per_node[node] = server.create_database()
            return per_node[node]

        use_databases(choose)
    try:
        yield backend
    finally:
        use_databases(None)


class SingleNode:
    """de-node of the example federation on loopback, with clients for its participants."""

    def __init__(self, fed: Federation, tmp: Path, **config: Any):
        self.fed = fed
        self.tmp = tmp
        self.port = free_port()
        self.directory = write_directory(fed, tmp, {"de-node": self.port, "fr-node": free_port()})
        self.db_url = default_database_url("de-node", tmp)
        self.config = write_node_config(fed, tmp, "de-node", self.port, self.directory, database_url=self.db_url, **config)
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
def de_node(database_backend: str, federation: Federation, tmp_path: Path) -> Iterator[SingleNode]:
    node = SingleNode(federation, tmp_path)
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def nodes(database_backend: str, federation: Federation, tmp_path: Path) -> Iterator[TwoNodes]:
    """de-node and fr-node of the example federation on loopback, relaying to each other."""
    two = TwoNodes(federation, tmp_path)
    try:
        yield two
    finally:
        two.close()
