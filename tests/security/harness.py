"""A de-node for attacks: real mTLS, real SQLite, a CRL of its own that revokes one client certificate."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.crypto import pki
from gateway.api.swg.v1 import exchange_pb2
from tests.support import tally
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import Client, NodeRunner, connect, free_port, write_directory, write_node_config
from gateway.testing.federation import Federation

POST, CUSTOMS, TAX = "DE/POST/MAIN", "DE/CUSTOMS/MAIN", "DE/TAX/MAIN"


@dataclass
class CertFiles:
    cert: Path
    key: Path


def client_cert(fed: Federation, out: Path, name: str, participant: str, *, ca: pki.Authority | None = None,
                not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                profile: pki.Profile = pki.Profile.TLS_CLIENT, node: str | None = None) -> CertFiles:
    """A client certificate + key on disk, possibly wrong (other CA, expired, node profile...)."""
    key = pki.new_key("ecdsa-p256")
    names: dict[str, Any] = {"node": node} if node else {"participant": participant}
    cert = pki.issue_certificate(ca or fed.ca, key.public_key(), profile=profile, not_before=not_before,
                                 not_after=not_after, **names)
    return CertFiles(pki.write_cert(out / f"{name}.crt", cert), pki.write_key(out / f"{name}.key", key))


class SecurityNode:
    """de-node whose CRL revokes ``revoked``; helpers to count stored rows and prove the node still works."""

    def __init__(self, fed: Federation, tmp: Path, limits: str = "", tls: str = "", delivery: str = ""):
        self.fed = fed
        self.tmp = tmp
        self.revoked = client_cert(fed, tmp, "revoked-post", POST)
        crl = pki.create_crl(fed.ca, [pki.revoked_entry(pki.load_cert(self.revoked.cert))])
        self.crl_path = crl_path = pki.write_crl(tmp / "crl.pem", crl)
        self.port = free_port()
        self.directory = write_directory(fed, tmp, {"de-node": self.port, "fr-node": free_port()})
        config = write_node_config(fed, tmp, "de-node", self.port, self.directory, limits=limits, delivery=delivery)
        # ``tls``: more lines for the [tls] section (e.g. crl_refresh_s).
        config.write_text(config.read_text().replace(f'crl = "{fed.paths.crl}"', f'crl = "{crl_path}"\n{tls}'))
        self.runner = NodeRunner(config).start()
        self.clients: list[Client] = []
        self._post: Client | None = None
        self._health_serial = 69_000_000

    @property
    def address(self) -> str:
        return self.runner.address

    @property
    def db_path(self) -> Path:
        return self.tmp / "de-node.db"

    def client(self, participant: str, **kw: Any) -> Client:
        c = connect(self.fed, "de-node", self.address, participant, **kw)
        self.clients.append(c)
        return c

    def counts(self) -> tuple[int, int]:
        """(messages, deliveries) rows, read from the database file by a separate connection."""
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return (db.execute("select count(*) from messages").fetchone()[0],
                    db.execute("select count(*) from deliveries").fetchone()[0])
        finally:
            db.close()

    def audit_rows(self, event: str, message_id: str | None = None) -> list[tuple[str, str, str]]:
        """(message_id, actor, detail) of the audit entries of ``event``, from the database file."""
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            q = "select message_id, actor, detail from audit_log where event = ?"
            args: tuple[str, ...] = (event,)
            if message_id is not None:
                q += " and message_id = ?"
                args += (message_id,)
            return [tuple(r) for r in db.execute(q + " order by seq", args).fetchall()]
        finally:
            db.close()

    def delivery_state(self, message_id: str) -> tuple[int, int, str]:
        """(state, attempts, last_error) of the message's delivery, from the database file."""
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            row = db.execute("select state, attempts, last_error from deliveries where message_id = ?",
                             (message_id,)).fetchone()
            return (int(row[0]), int(row[1]), str(row[2] or ""))
        finally:
            db.close()

    def assert_healthy(self) -> None:
        """gRPC health says SERVING and an ordinary submit is still accepted."""
        if self._post is None:
            self._post = self.client(POST)
        health = health_pb2_grpc.HealthStub(self._post.channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        before = self.counts()
        # An item of its own each time: an item id another sender declared first would be refused (ownership).
        self._health_serial += 1
        resp = self._post.exchange.Submit(exchange_pb2.SubmitRequest(
            format="swg.aed.v1", content=aed_batch(1, start=self._health_serial).SerializeToString()),
            metadata=self._post.metadata, timeout=30)
        assert list(resp.recipients) == [CUSTOMS]
        assert self.counts() == (before[0] + 1, before[1] + 1)

    def assert_refused(self, category: str, call: Callable[[], Any], code: grpc.StatusCode,
                       detail: str = "") -> grpc.RpcError:
        """``call`` fails with ``code`` (and ``detail`` in its message), nothing is stored, the node still works."""
        before = self.counts()
        try:
            call()
        except grpc.RpcError as err:
            got = err
        else:
            tally.attack(category, False)
            raise AssertionError(f"{category}: the call was accepted")
        ok = got.code() == code and detail.lower() in (got.details() or "").lower()
        tally.attack(category, ok)
        assert got.code() == code, got.details()
        assert detail.lower() in (got.details() or "").lower()
        assert self.counts() == before
        self.assert_healthy()
        return got

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.runner.close()


def submit_request(batch: Any = None, **kw: Any) -> exchange_pb2.SubmitRequest:
    return exchange_pb2.SubmitRequest(format="swg.aed.v1",
                                      content=(batch or aed_batch(1)).SerializeToString(), **kw)
