"""The Node.js example client (examples/clients/node) submits, receives and acknowledges against a real node.

It proves the contract works from another language with only the protos, the client certificate and a bearer
token from `gateway token issue`: what docs/clients.md tells an integrator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adapters import registry
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "examples" / "clients" / "node"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "the Node.js example needs node and npm (Debian: apt-get install npm; .ci/run does it)"
    if not (CLIENT / "node_modules" / "@grpc" / "grpc-js").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=CLIENT, check=True, timeout=300)
    return CLIENT / "node_modules"


def token(config: Path, participant: str, scopes: list[str], cert: Path, out: Path) -> Path:
    args = [sys.executable, "-m", "gateway", "token", "issue", "--config", str(config), "--participant", participant,
            "--cert", str(cert), "-o", str(out)]
    for scope in scopes:
        args += ["--scope", scope]
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=60)
    return out


def run_client(fed: Federation, participant: str, address: str, token_file: Path, *words: str) -> str:
    p = fed.paths.participants[participant]
    done = subprocess.run(["node", str(CLIENT / "client.mjs"), "--address", address, "--ca", str(fed.paths.ca_cert),
                           "--cert", str(p.client_cert), "--key", str(p.client_key), "--token", str(token_file),
                           *words], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_nodejs_client_submits_receives_and_acknowledges(node_modules: Path, federation: Federation,
                                                           tmp_path: Path) -> None:
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory)
    runner = NodeRunner(config).start()
    address = f"127.0.0.1:{port}"
    try:
        post, customs = federation.paths.participants["DE/POST/MAIN"], federation.paths.participants["DE/CUSTOMS/MAIN"]
        post_token = token(config, "DE/POST/MAIN", ["submit", "status"], post.client_cert, tmp_path / "post.jwt")
        customs_token = token(config, "DE/CUSTOMS/MAIN", ["receive"], customs.client_cert, tmp_path / "customs.jwt")
        doc = tmp_path / "items.xml"
        doc.write_bytes(registry.encode("upu.itmatt.v1", registry.AED, aed_batch(2, start=31000000)))

        said = run_client(federation, "DE/POST/MAIN", address, post_token,
                          "submit", "--format", "upu.itmatt.v1", "--message-id", "node-js-1", str(doc))
        assert said.split("\t")[0] == "node-js-1" and "DE/CUSTOMS/MAIN" in said

        inbox = tmp_path / "inbox"
        said = run_client(federation, "DE/CUSTOMS/MAIN", address, customs_token, "receive", "--out", str(inbox))
        assert said.startswith("node-js-1\tDE/POST/MAIN\tswg.aed.v1"), said
        meta = json.loads((inbox / "node-js-1.meta.json").read_text())
        assert meta["sender"] == "DE/POST/MAIN"
        assert (inbox / "node-js-1.receipt.jws").read_text().count(".") == 2, "a compact JWS receipt"
        post_client = connect(federation, "de-node", address, "DE/POST/MAIN")
        try:
            status = post_client.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="node-js-1"),
                                                    metadata=post_client.metadata)
        finally:
            post_client.close()
        assert [(r.recipient, r.state) for r in status.recipients] == [
            ("DE/CUSTOMS/MAIN", exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED)]
    finally:
        runner.close()
