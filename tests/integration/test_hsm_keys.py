"""A real node whose signing keys are in a PKCS#11 token (SoftHSM2, initialised by the test).

The sender's envelope is signed in the token, the recipient's node verifies it and the recipient's receipt
(signed in the token too, or with a file key on a mixed node) verifies offline; start errors are one clear
line naming the key's URI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest

from gateway import envelope
from gateway.api.swg.v1 import exchange_pb2
from gateway.crypto import pki
from gateway.errors import ConfigError
from gateway.node import Node
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation, make_federation
from gateway.testing.hsm import OTHER_TOKEN, SoftHsm, softhsm
from gateway.testing.nodes import free_port, write_directory, write_node_config
from tests.integration.conftest import SingleNode

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"


@pytest.fixture(scope="module")
def hsm() -> SoftHsm:
    return softhsm()


def _round_trip(node: SingleNode, fed: Federation) -> None:
    post, customs = node.client(POST), node.client(CUSTOMS)
    batch = aed_batch(2)
    resp = post.exchange.Submit(exchange_pb2.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString()),
                                metadata=post.metadata, timeout=30)
    [delivery] = customs.receive(1, format="swg.aed.v1")  # opened by the node: envelope signature verified
    assert delivery.message_id == resp.message_id and delivery.sender == POST
    ack = customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[resp.message_id]),
                                       metadata=customs.metadata)
    status = post.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=resp.message_id),
                                     metadata=post.metadata)
    [rs] = status.recipients
    assert rs.state == exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED
    [receipt] = rs.receipts
    assert receipt.jws == ack.receipts[0].jws
    verified = envelope.verify_receipt(receipt.jws, fed.trust)
    assert (verified.message_id, verified.recipient) == (resp.message_id, CUSTOMS)
    assert verified.envelope_sha256 == delivery.envelope_sha256


def test_participant_receipt_and_node_keys_all_in_the_token(hsm: SoftHsm, tmp_path: Path) -> None:
    fed = make_federation(tmp_path / "pki", pkcs11=hsm.keys(node_token_keys=True))
    for p in (POST, CUSTOMS):
        assert not fed.paths.participants[p].signing_key.exists()  # no key file: the key is in the token
    node = SingleNode(fed, tmp_path)
    try:
        assert node.runner.node.checkpoint_signer is not None
        assert type(node.runner.node.checkpoint_signer.key).__name__ == "Pkcs11Signer"
        assert type(node.runner.node.keys_of(POST).signing_key).__name__ == "Pkcs11Signer"
        _round_trip(node, fed)
    finally:
        node.close()


def test_mixed_node_sender_in_the_token_recipient_with_a_file_key(hsm: SoftHsm, tmp_path: Path) -> None:
    fed = make_federation(tmp_path / "pki", pkcs11=hsm.keys(frozenset({POST})))
    assert not fed.paths.participants[POST].signing_key.exists()
    assert fed.paths.participants[CUSTOMS].signing_key.is_file()
    node = SingleNode(fed, tmp_path)
    try:
        assert type(node.runner.node.keys_of(POST).signing_key).__name__ == "Pkcs11Signer"
        assert type(node.runner.node.keys_of(CUSTOMS).signing_key).__name__ != "Pkcs11Signer"
        _round_trip(node, fed)
    finally:
        node.close()


@pytest.fixture(scope="module")
def hsm_federation(hsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Federation:
    return make_federation(tmp_path_factory.mktemp("hsm-pki"), pkcs11=hsm.keys(frozenset({POST})))


def _config_with(fed: Federation, tmp: Path, post_key: str, extra: str = "") -> Path:
    directory = write_directory(fed, tmp, {"de-node": free_port(), "fr-node": free_port()})
    path = write_node_config(fed, tmp, "de-node", free_port(), directory)
    text = path.read_text()
    good = pki.key_reference(fed.paths.participants[POST].signing_key)
    assert isinstance(good, str) and good in text
    path.write_text(text.replace(good, post_key) + extra)
    return path


def _start_error(config: Path) -> str:
    with pytest.raises(ConfigError) as err:
        Node.load(config)
    return str(err.value)


def test_start_errors_name_the_uri_and_the_problem_never_the_pin(hsm: SoftHsm, hsm_federation: Federation,
                                                                tmp_path: Path) -> None:
    fed = hsm_federation
    good = pki.key_reference(fed.paths.participants[POST].signing_key)
    assert isinstance(good, str)
    label = good.split("object=")[1].split("?")[0]
    cases = {
        "PIN is wrong": hsm.key_uri(label, pin_file=hsm.wrong_pin_file),
        "no token labelled 'absent'": hsm.key_uri(label, token="absent"),
        "no private key with that object/id": hsm.key_uri("no-such-key"),
        "no private key with that object/id in token 'swg-other'": hsm.key_uri(label, token=OTHER_TOKEN),
        "not found": good.replace(hsm.module, str(tmp_path / "libmissing.so")),
        "does not match the certificate": hsm.new_key()[0],  # a key of the token, but not POST's
    }
    for i, (reason, uri) in enumerate(cases.items()):
        out = tmp_path / str(i)
        out.mkdir()
        message = _start_error(_config_with(fed, out, uri))
        assert message.startswith("participants[0]:") or "participants[" in message
        assert reason in message and uri in message, message
        assert hsm.pin not in message and "not-the-pin" not in message


def test_a_pin_in_the_node_config_is_refused_at_start(hsm_federation: Federation, tmp_path: Path) -> None:
    good = pki.key_reference(hsm_federation.paths.participants[POST].signing_key)
    assert isinstance(good, str)
    config = _config_with(hsm_federation, tmp_path, good, '\n[pkcs11]\npin = "123456"\n')
    message = _start_error(config)
    assert "pkcs11.pin: a PIN must not be written into the node config" in message
    (tmp_path / "uri").mkdir()
    in_uri = _config_with(hsm_federation, tmp_path / "uri", good.replace("?", ";pin-value=123456?"))
    message = _start_error(in_uri)
    assert "a PIN must not be written into the URI" in message and "123456" not in message


def test_gateway_serve_exits_non_zero_with_one_line_on_a_wrong_pin(hsm: SoftHsm, hsm_federation: Federation,
                                                                  tmp_path: Path) -> None:
    good = pki.key_reference(hsm_federation.paths.participants[POST].signing_key)
    assert isinstance(good, str)
    label = good.split("object=")[1].split("?")[0]
    config = _config_with(hsm_federation, tmp_path, hsm.key_uri(label, pin_file=hsm.wrong_pin_file))
    proc = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(config)], capture_output=True,
                          text=True, timeout=120, env={**os.environ}, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "PIN is wrong" in proc.stderr and "Traceback" not in proc.stderr
    assert hsm.pin not in proc.stderr + proc.stdout


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ}, stdin=subprocess.DEVNULL)


def test_pki_init_pkcs11_then_a_node_and_its_token_cli_use_the_keys_in_the_token(hsm: SoftHsm, tmp_path: Path
                                                                                 ) -> None:
    from gateway.crypto.trust import TrustStore
    from gateway.testing.federation import Federation

    prefix = f"{uuid.uuid4().hex[:8]}-"  # the process-wide token also holds other tests' keys
    proc = _gateway("pki", "init", "--out", str(tmp_path / "pki"), "--pkcs11", hsm.token_uri(),
                    "--pkcs11-participant", POST, "--pkcs11-node-keys", "--pkcs11-label-prefix", prefix,
                    "--days", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"key in token: pkcs11:token=swg-test;object={prefix}de-post-main-signing" in proc.stdout
    assert f"key in token: pkcs11:token=swg-test;object={prefix}de-node-token" in proc.stdout
    paths = pki.FederationPaths.of(tmp_path / "pki", ["de-node", "fr-node"], list(pki.DEFAULT_PARTICIPANTS))
    assert not paths.participants[POST].signing_key.exists() and not paths.nodes["de-node"].token_key.exists()
    assert paths.participants[CUSTOMS].signing_key.is_file()
    fed = Federation(paths, pki.load_authority(paths.ca_dir), TrustStore.from_files(paths.ca_cert, paths.crl))

    node = SingleNode(fed, tmp_path)  # participants, receipts and checkpoints signed in the token
    try:
        _round_trip(node, fed)
        issued = _gateway("token", "issue", "--config", str(node.config), "--participant", POST, "--scope", "status",
                          "--cert", str(paths.participants[POST].client_cert))
        assert issued.returncode == 0, issued.stderr
        client = node.client(POST, token=issued.stdout.strip())  # the node accepts the token the HSM signed
        with pytest.raises(grpc.RpcError) as err:
            client.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="no-such-message"),
                                      metadata=client.metadata, timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND  # authenticated: refused for the id, not the token
        forged = issued.stdout.strip()[:-4] + ("AAAA" if not issued.stdout.strip().endswith("AAAA") else "BBBB")
        other = node.client(POST, token=forged)
        with pytest.raises(grpc.RpcError) as err:
            other.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id="no-such-message"),
                                     metadata=other.metadata, timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        node.close()
