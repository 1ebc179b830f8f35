"""A node runs under exactly the PostgreSQL grants docs/deploy.md gives (read from the file itself)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


def documented_sql() -> tuple[list[str], list[str]]:
    """The superuser block and the owner block of "Least privilege", statement by statement."""
    section = (ROOT / "docs" / "deploy.md").read_text().split("**Least privilege.**", 1)[1]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)[:2]
    assert len(blocks) == 2, "docs/deploy.md: Least privilege has a superuser block and an owner block"
    split = [[s.strip() for s in b.split(";") if s.strip()] for b in blocks]
    return split[0], split[1]


@pytest.mark.postgres
def test_a_node_runs_under_the_documented_least_privilege_grants(postgres_server: PostgresServer,
                                                                federation: Federation, tmp_path: Path) -> None:
    as_superuser, as_owner = documented_sql()
    pg = postgres_server
    with psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres", autocommit=True) as c:
        for statement in as_superuser:
            c.execute(statement)  # type: ignore[arg-type]
    with psycopg.connect(host="127.0.0.1", port=pg.port, user="swg_owner", dbname="de_node", autocommit=True) as c:
        for statement in as_owner:
            c.execute(statement)  # type: ignore[arg-type]

    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    owner_url = f"postgresql+psycopg://swg_owner@127.0.0.1:{pg.port}/de_node"
    owner_config = write_node_config(federation, tmp_path, "de-node", port, directory, database_url=owner_url,
                                     file_stem="owner")
    migrated = subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade", "--config", str(owner_config)],
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr

    node_url = f"postgresql+psycopg://swg_node@127.0.0.1:{pg.port}/de_node"
    config = write_node_config(federation, tmp_path, "de-node", port, directory, database_url=node_url)
    config.write_text(config.read_text().replace(f'url = "{node_url}"', f'url = "{node_url}"\nauto_migrate = false'))
    runner = NodeRunner(config).start()
    try:
        post = connect(federation, "de-node", f"127.0.0.1:{port}", "DE/POST/MAIN")
        customs = connect(federation, "de-node", f"127.0.0.1:{port}", "DE/CUSTOMS/MAIN")
        try:
            sent = post.exchange.Submit(exchange_pb2.SubmitRequest(
                message_id="grants-1", format="swg.aed.v1", content=aed_batch(2, start=41000000).SerializeToString()),
                metadata=post.metadata)
            assert sent.recipients == ["DE/CUSTOMS/MAIN"]
            got = customs.receive(1)
            assert [d.message_id for d in got] == ["grants-1"]
            ack = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=["grants-1"]),
                                               metadata=customs.metadata)
            assert len(ack.receipts) == 1
        finally:
            post.close()
            customs.close()
        audit = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--config", str(config)],
                               capture_output=True, text=True, timeout=120)
        assert audit.returncode == 0 and audit.stdout.startswith("OK"), audit.stdout + audit.stderr
    finally:
        runner.close()
    with psycopg.connect(host="127.0.0.1", port=pg.port, user="swg_node", dbname="de_node") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("DROP TABLE audit_log")
