"""Real nodes for integration tests: configs written from a test federation, servers on loopback.

``NodeRunner`` runs a ``GatewayServer`` on its own event loop in a thread, so tests use the ordinary
synchronous gRPC client exactly as an agency's application would, over real mTLS.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gateway import envelope
from gateway.crypto import pki
from gateway.federation import signature as directory_signature
from gateway.api.swg.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.crypto.tokens import issue_token
from gateway.node import Node
from gateway.transport.server import GatewayServer
from gateway.testing.federation import Federation

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIRECTORY = ROOT / "examples" / "federation.toml"
HOSTED = {
    "de-node": ("DE/CUSTOMS/MAIN", "DE/POST/MAIN", "DE/TAX/MAIN"),
    "fr-node": ("FR/CUSTOMS/MAIN", "FR/POST/MAIN"),
}


_BELOW_EPHEMERAL = (20_000, 32_000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now, below Linux's ephemeral range (32768-60999): a port the kernel hands out
    for bind(0) is one it may also give an outgoing connection before the node listens on it."""
    for _ in range(200):
        port = random.randint(*_BELOW_EPHEMERAL)
        if port in _handed_out:  # two nodes of one test must never be given the same port
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_client_profile(fed: Federation, out: Path, participant: str, address: str,
                         scopes: Iterable[str] = ("submit", "receive", "status"), node: str = "de-node") -> Path:
    """A client profile TOML, as an agency's application has one: minting its own tokens with the node's key."""
    pp, np = fed.paths.participants[participant], fed.paths.nodes[node]
    scopes = tuple(scopes)
    path = out / f"{participant.replace('/', '-').lower()}-{'-'.join(scopes)}.toml"
    listed = ", ".join(f'"{s}"' for s in scopes)
    path.write_text(f"""
participant = "{participant}"
address = "{address}"
ca = "{fed.paths.ca_cert}"
cert = "{pp.client_cert}"
key = "{pp.client_key}"

[token]
issuer_key = "{np.token_key}"
issuer = "swg:{node}"
audience = "swg:{node}"
scopes = [{listed}]
""")
    return path


def write_directory(fed: Federation, out: Path, ports: dict[str, int], extra: str = "") -> Path:
    """The example directory, pointing at the test federation's certificates and the given ports."""
    text = EXAMPLE_DIRECTORY.read_text().replace("../certs-example", str(fed.paths.root))
    for node, port in ports.items():
        default = {"de-node": 50051, "fr-node": 50052}[node]
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    path = out / "federation.toml"
    return sign_directory(fed, path, text + extra)


def sign_directory(fed: Federation, path: Path, text: str) -> Path:
    """Write ``text`` (certificates re-pinned) to ``path`` and its CA signature to ``path``.jws."""
    data = directory_signature.pin_certificates(text, path.parent).encode()
    path.write_bytes(data)
    signer = envelope.Signer(fed.ca.key, (fed.ca.cert,))
    directory_signature.signature_path(path).write_text(directory_signature.sign(data, signer))
    return path


# Which database a node config gets when the test does not name one: set per test by the integration
# suite's backend fixture (SQLite file next to the config, or a fresh PostgreSQL database per node name,
# so that configs of one node name written for replicas share it).
DatabaseChooser = Callable[[str, Path], "str | None"]
_choose_database: DatabaseChooser | None = None


def use_databases(chooser: DatabaseChooser | None) -> None:
    global _choose_database
    _choose_database = chooser


def default_database_url(node: str, out: Path) -> str:
    chosen = _choose_database(node, out) if _choose_database is not None else None
    return chosen or f"sqlite:///{out / (node + '.db')}"


def write_node_config(fed: Federation, out: Path, node: str, port: int, directory: Path, *,
                      database_url: str | None = None, limits: str = "", delivery: str = "",
                      participants: Iterable[str] | None = None, visibility_timeout_s: float = 30,
                      log_level: str = "info", file_stem: str | None = None, processes: int = 1) -> Path:
    np = fed.paths.nodes[node]
    db = database_url or default_database_url(node, out)
    parts = []
    for pid in participants if participants is not None else HOSTED[node]:
        pp = fed.paths.participants[pid]
        parts.append(f"""
[[participants]]
id = "{pid}"
signing_key = "{pki.key_reference(pp.signing_key)}"
signing_cert = "{pp.signing_cert}"
encryption_key = "{pp.encryption_key}"
encryption_cert = "{pp.encryption_cert}"
pq_signing_key = "{pp.pq_signing_key}"
pq_encryption_key = "{pp.pq_encryption_key}"
""")
    text = f"""
[node]
name = "{node}"
listen = "127.0.0.1:{port}"
directory = "{directory}"
processes = {processes}

[tls]
ca = "{fed.paths.ca_cert}"
cert = "{np.tls_cert}"
key = "{np.tls_key}"
crl = "{fed.paths.crl}"

[database]
url = "{db}"

[tokens]
issuer = "swg:{node}"
audience = "swg:{node}"
signing_certificate = "{np.token_cert}"
signing_key = "{pki.key_reference(np.token_key)}"
max_lifetime_s = 3600

[limits]
visibility_timeout_s = {visibility_timeout_s}
{limits}

[delivery]
poll_interval_s = 0.2
expiry_sweep_s = 0.2
{delivery}

[logging]
level = "{log_level}"
""" + "".join(parts)
    path = out / f"{file_stem or node}.toml"
    path.write_text(text)
    return path


class NodeRunner:
    """A node in a background thread with its own event loop."""

    def __init__(self, config: Path):
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: GatewayServer | None = None
        self.thread.start()

    def _call(self, coro: Any, timeout: float = 60) -> Any:
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
        except concurrent.futures.TimeoutError:
            # Say where the node's loop thread was, so that a hang can be explained from the test output.
            frames = sys._current_frames().get(self.thread.ident or 0)
            where = "".join(traceback.format_stack(frames)) if frames is not None else "(no frame)"
            raise TimeoutError(f"node call did not finish within {timeout} s; its loop thread was at:\n{where}") \
                from None

    def start(self) -> NodeRunner:
        async def go() -> GatewayServer:
            node = await asyncio.to_thread(Node.load, self.config)
            server = GatewayServer(node)
            await server.start()
            return server

        self.server = self._call(go())
        return self

    @property
    def node(self) -> Node:
        assert self.server is not None
        return self.server.node

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.address

    def stop(self, grace_s: float = 2.0) -> None:
        if self.server is not None:
            self._call(self.server.stop(grace_s))
            self.server = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Client:
    """What a participant's application holds: an mTLS channel and a bound bearer token."""

    participant: str
    channel: grpc.Channel
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    @property
    def exchange(self) -> exchange_pb2_grpc.ExchangeStub:
        return exchange_pb2_grpc.ExchangeStub(self.channel)

    def receive(self, count: int, timeout: float = 30, **request: Any) -> list[Any]:
        """The next ``count`` deliveries on one Receive stream (not acknowledged), then the stream ends."""
        stream = self.exchange.Receive(exchange_pb2.ReceiveRequest(**request), metadata=self.metadata,
                                       timeout=timeout)
        got = []
        for delivery in stream:
            got.append(delivery)
            if len(got) == count:
                break
        stream.cancel()
        return got

    def close(self) -> None:
        self.channel.close()


def connect(fed: Federation, node: str, address: str, participant: str,
            scopes: Sequence[str] = ("submit", "receive", "status", "assist", "admin"), *,
            cert: Path | None = None, key: Path | None = None, ca: Path | None = None,
            token: str | None = None, lifetime_s: int = 600) -> Client:
    pp = fed.paths.participants[participant]
    np = fed.paths.nodes[node]
    cert_pem = (cert or pp.client_cert).read_bytes()
    creds = grpc.ssl_channel_credentials(root_certificates=(ca or fed.paths.ca_cert).read_bytes(),
                                         private_key=(key or pp.client_key).read_bytes(), certificate_chain=cert_pem)
    if token is None:
        # The node's token key is a PEM file or a key in a PKCS#11 token (pki init --pkcs11-node-keys).
        token = issue_token(signer=envelope.Signer.from_files(pki.key_reference(np.token_key), np.token_cert).key,
                            issuer=f"swg:{node}", audience=f"swg:{node}",
                            participant=participant, scopes=scopes, client_cert_pem=cert_pem, lifetime_s=lifetime_s)
    return Client(participant, grpc.secure_channel(address, creds), token)


def load_node(fed: Federation, out: Path, node: str = "de-node", *, extra_directory: str = "",
              ports: dict[str, int] | None = None, database_url: str | None = None, limits: str = "",
              delivery: str = "", log_level: str = "info") -> Node:
    """``node`` of the example federation loaded in this process with its schema created; nothing listens.

    For driving submission and delivery directly. ``limits`` and ``delivery`` are TOML lines added to those
    sections. The caller closes the node.
    """
    ports = ports or {"de-node": free_port(), "fr-node": free_port()}
    directory = write_directory(fed, out, ports, extra_directory)
    path = write_node_config(fed, out, node, ports[node], directory, database_url=database_url, limits=limits,
                             delivery=delivery, log_level=log_level)
    return Node.load(path, create_schema=True)
