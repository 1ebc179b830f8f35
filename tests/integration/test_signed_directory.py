"""The federation directory is the CA-signed text: nodes refuse it unsigned, tampered, with swapped
certificates or older, and take a newer signed one without a restart."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import grpc
import pytest

from gateway.evidence import audit
from gateway.federation import signature as directory_signature
from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from gateway.config import load_node_config
from gateway.federation import check, read_signed_directory
from gateway.errors import ConfigError
from gateway.crypto.trust import TrustStore
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import NodeRunner, connect, free_port, sign_directory, write_directory, write_node_config
from gateway.testing.federation import Federation
from tests.support.two_nodes import wait_for

ROOT = Path(__file__).resolve().parents[2]
POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


def node_config(fed: Federation, tmp: Path, node_keys: str = "") -> Path:
    directory = write_directory(fed, tmp, {"de-node": free_port(), "fr-node": free_port()})
    config = write_node_config(fed, tmp, "de-node", free_port(), directory)
    if node_keys:
        config.write_text(config.read_text().replace("[node]\n", f"[node]\n{node_keys}\n", 1))
    return config


def problems(config: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        check(config)
    return {p.field: p.description for p in exc.value.problems}


def test_the_committed_example_directory_is_signed_by_the_committed_ca() -> None:
    # Fails when someone edits examples/federation.toml or regenerates certs-example without
    # `gateway directory pin` + `gateway directory sign` (the Makefile's pki target does both).
    cfg = load_node_config(ROOT / "examples" / "de-node.toml")
    directory = read_signed_directory(cfg)
    assert directory.signature and not directory.unpinned
    directory_signature.verify((ROOT / "examples" / "federation.toml").read_bytes(),
                               (ROOT / "examples" / "federation.toml.jws").read_text(),
                               TrustStore.from_files(ROOT / "certs-example" / "ca" / "ca.crt"))


def test_unsigned_directory_is_refused_unless_explicitly_allowed(federation: Federation, tmp_path: Path) -> None:
    config = node_config(federation, tmp_path)
    directory_signature.signature_path(tmp_path / "federation.toml").unlink()
    assert "no signature" in problems(config)["node.directory_signature"]

    config.write_text(config.read_text().replace("[node]\n", "[node]\nallow_unsigned_directory = true\n", 1))
    _, directory = check(config)
    assert directory.signature == ""


def test_tampered_directory_is_refused(federation: Federation, tmp_path: Path) -> None:
    config = node_config(federation, tmp_path)
    path = tmp_path / "federation.toml"
    path.write_text(path.read_text().replace('"DE/CUSTOMS/MAIN"', '"FR/CUSTOMS/MAIN"', 1))
    assert "does not verify" in problems(config)["node.directory_signature"]


def test_signature_by_another_key_than_the_federation_ca_is_refused(federation: Federation, tmp_path: Path) -> None:
    from gateway import envelope

    config = node_config(federation, tmp_path)
    path = tmp_path / "federation.toml"
    np = federation.paths.nodes["de-node"]
    node_signer = envelope.Signer.from_files(np.token_key, np.token_cert)
    directory_signature.signature_path(path).write_text(directory_signature.sign(path.read_bytes(), node_signer))
    assert "federation CA" in problems(config)["node.directory_signature"]


def test_a_certificate_swapped_beside_a_signed_directory_is_refused(federation: Federation, tmp_path: Path) -> None:
    config = node_config(federation, tmp_path)
    fr_cert = federation.paths.nodes["fr-node"].tls_cert
    backup = tmp_path / "fr-tls.crt"
    shutil.copy(fr_cert, backup)
    try:
        shutil.copy(federation.paths.nodes["de-node"].tls_cert, fr_cert)
        found = problems(config)
    finally:
        shutil.copy(backup, fr_cert)
    assert "not the pinned certificate" in found["federation.toml: nodes[1].tls_certificate_sha256"]


def test_a_signed_directory_must_pin_its_certificates(federation: Federation, tmp_path: Path) -> None:
    config = node_config(federation, tmp_path)
    path = tmp_path / "federation.toml"
    unpinned = "".join(line for line in path.read_text().splitlines(keepends=True) if "_sha256" not in line)
    path.write_text(unpinned)
    signer_path = directory_signature.signature_path(path)
    from gateway import envelope

    signer_path.write_text(directory_signature.sign(unpinned.encode(), envelope.Signer(federation.ca.key,
                                                                                       (federation.ca.cert,))))
    assert "must pin" in problems(config)["federation.toml: participants[0].encryption_certificate_sha256"]


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def _publish(fed: Federation, path: Path, text: str) -> None:
    """What a federation operator does: sign the new text, then put both files in place."""
    staged = path.with_name("staged.toml")
    sign_directory(fed, staged, text)
    _replace(directory_signature.signature_path(path), directory_signature.signature_path(staged).read_text())
    _replace(path, staged.read_text())


def _audited(runner: NodeRunner, event: str) -> dict | None:  # type: ignore[type-arg]
    entry = runner.node.store.last_audit_of(event, "de-node")
    return None if entry is None else json.loads(entry.detail)


def test_node_takes_a_newer_signed_directory_without_restart_and_refuses_older_or_tampered(
        federation: Federation, tmp_path: Path) -> None:
    config = node_config(federation, tmp_path, "directory_poll_s = 0.05")
    path = tmp_path / "federation.toml"
    v1 = path.read_text()
    runner = NodeRunner(config).start()
    post = connect(federation, "de-node", runner.address, POST)
    try:
        to_italy = exchange_pb2.SubmitRequest(format="swg.aed.v1",
                                              content=aed_batch(1, destination="IT").SerializeToString())
        with pytest.raises(grpc.RpcError) as refused:
            post.exchange.Submit(to_italy, metadata=post.metadata, timeout=30)
        assert refused.value.code() != grpc.StatusCode.OK

        v2 = v1.replace("version = 1", "version = 2") + f"""
[[routes]]
document_type = "swg.aed.v1"
from = ["*/POST/*"]
to = ["{CUSTOMS}"]
when = {{ destination_country = "IT" }}
"""
        _publish(federation, path, v2)
        wait_for(lambda: runner.node.directory.version == 2, timeout=20)
        resp = post.exchange.Submit(to_italy, metadata=post.metadata, timeout=30)
        assert list(resp.recipients) == [CUSTOMS]

        changed = _audited(runner, audit.DIRECTORY_CHANGED)
        assert changed is not None
        assert (changed["old_version"], changed["new_version"]) == (1, 2)
        assert changed["new_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        admin = admin_pb2_grpc.AdminStub(post.channel)
        got = admin.GetDirectory(admin_pb2.GetDirectoryRequest(), metadata=post.metadata, timeout=30)
        assert (got.version, got.directory, got.signature) == (
            2, path.read_bytes(), directory_signature.signature_path(path).read_text().strip())

        # An older (here: equal-numbered, differently worded) signed directory is refused.
        _publish(federation, path, v2.replace("version = 2", "version = 1"))
        older = wait_for(lambda: _audited(runner, audit.DIRECTORY_REFUSED), timeout=20)
        assert "not newer" in older["refused"]
        assert runner.node.directory.version == 2

        # A newer but tampered file is refused too; the running directory stays.
        _publish(federation, path, v2.replace("version = 2", "version = 3"))
        signed_v3 = path.read_text()
        wait_for(lambda: runner.node.directory.version == 3, timeout=20)
        _replace(path, signed_v3.replace("version = 3", "version = 4"))
        tampered = wait_for(lambda: (d := _audited(runner, audit.DIRECTORY_REFUSED)) and "does not verify" in
                            d.get("refused", "") and d, timeout=20)
        assert tampered["old_version"] == 3
        assert runner.node.directory.version == 3
        resp = post.exchange.Submit(to_italy, metadata=post.metadata, timeout=30)
        assert list(resp.recipients) == [CUSTOMS]
    finally:
        post.close()
        runner.close()


def test_directory_cli_pins_signs_and_shows_the_signature_status(federation: Federation, tmp_path: Path) -> None:
    import subprocess
    import sys

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "directory", *map(str, args)], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)

    node_config(federation, tmp_path)
    path = tmp_path / "federation.toml"
    directory_signature.signature_path(path).unlink()
    ca = federation.paths.ca_cert
    assert "MISSING" in gateway("show", path, "--ca", ca).stdout
    assert gateway("pin", path).returncode == 0
    signed = gateway("sign", path, "--ca-key", federation.paths.ca_dir / "ca.key", "--ca-cert", ca)
    assert signed.returncode == 0, signed.stderr
    shown = gateway("show", path, "--ca", ca)
    assert shown.returncode == 0 and "signature: valid" in shown.stdout and "version 1" in shown.stdout

    path.write_text(path.read_text().replace("version = 1", "version = 2"))
    shown = gateway("show", path, "--ca", ca)
    assert shown.returncode == 1 and "signature: INVALID" in shown.stdout
