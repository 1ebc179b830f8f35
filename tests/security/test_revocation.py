"""Revocation on a running node: a CRL published while the node serves is in force within `[tls] crl_refresh_s`.

A de-node over real mTLS whose CRL file (tests.security.harness.SecurityNode) is rewritten while it runs: a
certificate that worked is refused on its next call, an open Receive stream and an open peer Relay stream of a
revoked certificate are ended, and a CRL file that is corrupt, unsigned, stale, older or gone leaves the CRL in
force alone (never "no CRL").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.api.swg.v1 import exchange_pb2, peering_pb2, peering_pb2_grpc
from gateway.crypto import pki
from gateway.testing.federation import Federation, other_ca, utcnow
from gateway.testing.nodes import Client, NodeRunner, connect, free_port, write_directory, write_node_config
from tests.security.harness import CUSTOMS, POST, CertFiles, SecurityNode, client_cert, submit_request
from tests.support import tally
from tests.support.two_nodes import FAST_RETRY, wait_for

REFRESH = "crl_refresh_s = 0.2"


@pytest.fixture
def node(federation: Federation, tmp_path: Path) -> Iterator[SecurityNode]:
    """A fresh de-node per test: each test rewrites its CRL and counts its deliveries."""
    n = SecurityNode(federation, tmp_path, tls=REFRESH)
    try:
        yield n
    finally:
        n.close()


def publish_crl(node: SecurityNode, *revoked: Path, now: dt.datetime | None = None) -> x509.CertificateRevocationList:
    """A new CRL of the federation CA in the node's CRL file: the harness's revoked certificate plus ``revoked``."""
    certs = [pki.load_cert(node.revoked.cert)] + [pki.load_cert(p) for p in revoked]
    crl = pki.create_crl(node.fed.ca, [pki.revoked_entry(c) for c in certs], now=now)
    pki.write_crl(node.crl_path, crl)
    return crl


def client_with(node: SecurityNode, participant: str, cert: CertFiles) -> Client:
    return node.client(participant, cert=cert.cert, key=cert.key)


def refused_code(call: Callable[[], Any]) -> grpc.StatusCode | None:
    """The status ``call`` is refused with, or None when it succeeds."""
    try:
        call()
    except grpc.RpcError as err:
        return err.code()
    return None


def get_status(client: Client, message_id: str) -> Callable[[], Any]:
    return lambda: client.exchange.GetStatus(exchange_pb2.GetStatusRequest(message_id=message_id),
                                             metadata=client.metadata, timeout=10)


def test_a_certificate_that_worked_is_refused_after_a_new_crl_revokes_it(node: SecurityNode) -> None:
    cert = client_cert(node.fed, node.tmp, "post-2", POST)
    post = client_with(node, POST, cert)
    sent = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    assert get_status(post, sent.message_id)() is not None  # works, and its certificate and token are cached

    crl = publish_crl(node, cert.cert)
    wait_for(lambda: refused_code(get_status(post, sent.message_id)) == grpc.StatusCode.UNAUTHENTICATED, timeout=15)
    # The change of who may connect is evidence: audited with the file's digest and the count it revokes.
    changed = [json.loads(d) for _, actor, d in node.audit_rows("crl_changed") if actor == "de-node"]
    assert changed and changed[-1]["revoked"] == len(crl) and changed[-1]["sha256"] == hashlib.sha256(
        node.crl_path.read_bytes()).hexdigest()
    node.assert_refused("certificate revoked while the node runs",
                        lambda: post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED, "revoked")
    # The certificate revoked at start stays revoked under the new CRL.
    old = client_with(node, POST, node.revoked)
    node.assert_refused("certificate revoked at start, after a CRL reload",
                        lambda: old.exchange.Submit(submit_request(), metadata=old.metadata, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED, "revoked")


def test_an_open_receive_stream_of_a_revoked_certificate_is_closed(node: SecurityNode) -> None:
    cert = client_cert(node.fed, node.tmp, "customs-2", CUSTOMS)
    customs = client_with(node, CUSTOMS, cert)
    post = node.client(POST)
    sent = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    stream = customs.exchange.Receive(exchange_pb2.ReceiveRequest(), metadata=customs.metadata, timeout=30)
    first = next(stream)  # the stream is open and admitted
    assert first.message_id == sent.message_id

    publish_crl(node, cert.cert)
    with pytest.raises(grpc.RpcError) as ended:
        next(stream)  # ends when the node closes it; without revocation it would wait for the deadline
    ok = ended.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (ended.value.details() or "")
    tally.attack("open Receive stream of a certificate revoked while it streams", ok)
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED, ended.value.details()
    assert "stream closed" in ended.value.details() and "revoked" in ended.value.details()
    # What the closed stream held and did not acknowledge goes to the participant's next (valid) stream.
    again = node.client(CUSTOMS).receive(1, timeout=15)
    assert [d.message_id for d in again] == [sent.message_id]
    # And the revoked certificate cannot open a new one.
    node.assert_refused("Receive with a certificate revoked while the node runs",
                        lambda: customs.receive(1, timeout=10), grpc.StatusCode.UNAUTHENTICATED, "revoked")


class PeerStream:
    """fr-node's side of a Relay stream to the de-node, driven one request at a time."""

    def __init__(self, node: SecurityNode):
        np = node.fed.paths.nodes["fr-node"]
        creds = grpc.ssl_channel_credentials(root_certificates=node.fed.paths.ca_cert.read_bytes(),
                                             private_key=np.tls_key.read_bytes(),
                                             certificate_chain=np.tls_cert.read_bytes())
        self.channel = grpc.secure_channel(node.address, creds, options=[("grpc.ssl_target_name_override",
                                                                          "de-node")])
        self._requests: queue.Queue[peering_pb2.RelayRequest | None] = queue.Queue()
        self.responses = peering_pb2_grpc.PeeringStub(self.channel).Relay(self._feed(), timeout=30)

    def _feed(self) -> Iterator[peering_pb2.RelayRequest]:
        while (req := self._requests.get()) is not None:
            yield req

    def ask(self, relay_id: str) -> peering_pb2.RelayResponse:
        # A request with neither envelope nor receipt: answered REJECTED, nothing stored; proves the stream works.
        self._requests.put(peering_pb2.RelayRequest(relay_id=relay_id))
        return next(self.responses)

    def close(self) -> None:
        self._requests.put(None)
        self.responses.cancel()
        self.channel.close()


def test_a_revoked_peer_node_certificate_is_refused_on_relay(node: SecurityNode) -> None:
    peer = PeerStream(node)
    try:
        answer = peer.ask("1")
        assert answer.relay_id == "1" and answer.outcome == peering_pb2.RELAY_OUTCOME_REJECTED

        publish_crl(node, node.fed.paths.nodes["fr-node"].tls_cert)
        with pytest.raises(grpc.RpcError) as ended:
            next(peer.responses)  # ends when the node closes the link; without revocation it waits for the deadline
        ok = ended.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (ended.value.details() or "")
        tally.attack("open Relay stream of a peer node certificate revoked while it relays", ok)
        assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED, ended.value.details()
        assert "node certificate of fr-node" in ended.value.details() and "revoked" in ended.value.details()
    finally:
        peer.close()
    again = PeerStream(node)
    try:
        node.assert_refused("Relay with a peer node certificate revoked while the node runs",
                            lambda: again.ask("3"), grpc.StatusCode.UNAUTHENTICATED, "revoked")
    finally:
        again.close()


FR_POST = "FR/POST/MAIN"


def test_a_relay_link_to_a_peer_whose_certificate_is_revoked_stops_sending(federation: Federation,
                                                                           tmp_path: Path) -> None:
    """fr-node relays to de-node until fr-node's CRL revokes de-node's TLS certificate; then it holds the messages."""
    ports = {"de-node": free_port(), "fr-node": free_port()}
    directory = write_directory(federation, tmp_path, ports)
    crl_path = pki.write_crl(tmp_path / "fr-crl.pem", pki.create_crl(federation.ca))
    configs = {n: write_node_config(federation, tmp_path, n, p, directory, delivery=FAST_RETRY) for n, p in ports.items()}
    configs["fr-node"].write_text(configs["fr-node"].read_text().replace(
        f'crl = "{federation.paths.crl}"', f'crl = "{crl_path}"\n{REFRESH}'))
    runners = {n: NodeRunner(c).start() for n, c in configs.items()}
    clients: list[Client] = []
    try:
        post = connect(federation, "fr-node", runners["fr-node"].address, FR_POST)
        marker = client_cert(federation, tmp_path, "fr-post-2", FR_POST)
        probe = connect(federation, "fr-node", runners["fr-node"].address, FR_POST, cert=marker.cert, key=marker.key)
        clients += [post, probe]
        first = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
        wait_for(lambda: get_status(post, first.message_id)().recipients[0].state
                 == exchange_pb2.DELIVERY_STATE_DELIVERED)  # the link to de-node is open and works

        de_tls = federation.paths.nodes["de-node"].tls_cert
        pki.write_crl(crl_path, pki.create_crl(federation.ca, [pki.revoked_entry(pki.load_cert(p))
                                                               for p in (de_tls, marker.cert)]))
        # The new CRL is in force on fr-node once the marker certificate it also revokes is refused.
        wait_for(lambda: refused_code(get_status(probe, first.message_id)) == grpc.StatusCode.UNAUTHENTICATED,
                 timeout=15)
        second = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
        last = wait_for(lambda: get_status(post, second.message_id)().recipients[0].last_error, timeout=15)
        held = get_status(post, second.message_id)().recipients[0]
        ok = "no longer trusts" in last and held.state != exchange_pb2.DELIVERY_STATE_DELIVERED
        tally.attack("relaying to a peer whose node certificate was revoked while the link was open", ok)
        assert "no longer trusts" in last and "revoked" in last, last
        assert held.state in (exchange_pb2.DELIVERY_STATE_QUEUED, exchange_pb2.DELIVERY_STATE_IN_FLIGHT)
    finally:
        for c in clients:
            c.close()
        for r in runners.values():
            r.close()


def _garbage(node: SecurityNode) -> None:
    node.crl_path.write_bytes(b"this is not a CRL\n")


def _truncated(node: SecurityNode) -> None:
    data = pki.create_crl(node.fed.ca).public_bytes(Encoding.PEM)
    node.crl_path.write_bytes(data[: len(data) // 2])


def _other_ca(node: SecurityNode) -> None:
    pki.write_crl(node.crl_path, pki.create_crl(other_ca()))


def _bad_signature(node: SecurityNode) -> None:
    # The federation CA's name and a valid structure, but signed by another key.
    impostor = pki.Authority(other_ca().key, node.fed.ca.cert)
    pki.write_crl(node.crl_path, pki.create_crl(impostor))


def _past_next_update(node: SecurityNode) -> None:
    pki.write_crl(node.crl_path, pki.create_crl(node.fed.ca, days=1, now=utcnow() - dt.timedelta(days=2)))


def _older(node: SecurityNode) -> None:
    # Genuine, signed by the CA, not stale, but older than the CRL in force: replayed, it would un-revoke.
    pki.write_crl(node.crl_path, pki.create_crl(node.fed.ca, now=utcnow() - dt.timedelta(hours=1)))


def _deleted(node: SecurityNode) -> None:
    node.crl_path.unlink()


@pytest.mark.parametrize(("spoil", "why"), [
    (_garbage, "is not a PEM CRL"),
    (_truncated, "is not a PEM CRL"),
    (_other_ca, "not signed by the federation CA"),
    (_bad_signature, "not signed by the federation CA"),
    (_past_next_update, "past its nextUpdate"),
    (_older, "older than the running one"),
    (_deleted, "cannot read"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else "")
def test_a_bad_crl_file_keeps_the_crl_in_force(node: SecurityNode, spoil: Callable[[SecurityNode], None],
                                               why: str) -> None:
    cert = client_cert(node.fed, node.tmp, "post-2", POST)
    post = client_with(node, POST, cert)
    sent = post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30)
    publish_crl(node, cert.cert)
    wait_for(lambda: refused_code(get_status(post, sent.message_id)) == grpc.StatusCode.UNAUTHENTICATED, timeout=15)

    trust = node.runner.node.trust
    spoil(node)
    reason = wait_for(lambda: trust.crl_refused, timeout=15)  # the node looked at the bad file and refused it
    assert why in reason
    refused = wait_for(lambda: node.audit_rows("crl_refused"), timeout=15)
    assert why in json.loads(refused[-1][2])["reason"]
    node.assert_refused(f"revoked certificate after a bad CRL file ({spoil.__name__.strip('_')})",
                        lambda: post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED, "revoked")
    old = client_with(node, POST, node.revoked)
    node.assert_refused("certificate revoked at start, after a bad CRL file",
                        lambda: old.exchange.Submit(submit_request(), metadata=old.metadata, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED, "revoked")


def refused_after_the_crl(node: SecurityNode, post: Client, what: str, text: str) -> None:
    """Once the new CRL is in force, a submit is refused FAILED_PRECONDITION saying ``text``, storing nothing."""
    def submit() -> Any:
        return post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=10)

    wait_for(lambda: refused_code(submit) == grpc.StatusCode.FAILED_PRECONDITION, timeout=15)
    before = node.counts()
    with pytest.raises(grpc.RpcError) as refused:
        submit()
    ok = refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    tally.attack(what, ok)
    assert ok and text in (refused.value.details() or ""), refused.value.details()
    assert node.counts() == before, "nothing stored"


def test_nothing_is_sealed_to_a_recipient_whose_encryption_certificate_is_revoked(node: SecurityNode) -> None:
    """Revoking a participant's encryption key must stop others from sealing to it at once, not at a restart."""
    post = node.client(POST)
    assert list(post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30).recipients) == [CUSTOMS]

    publish_crl(node, node.fed.paths.participants[CUSTOMS].encryption_cert)
    refused_after_the_crl(node, post, "sealing to a recipient whose encryption certificate was revoked",
                          f"encryption certificate of recipient {CUSTOMS} is not trusted")


def test_the_node_does_not_sign_with_a_hosted_participants_revoked_signing_key(node: SecurityNode) -> None:
    post = node.client(POST)
    assert post.exchange.Submit(submit_request(), metadata=post.metadata, timeout=30).message_id

    publish_crl(node, node.fed.paths.participants[POST].signing_cert)
    refused_after_the_crl(node, post, "signing as a participant whose signing certificate was revoked",
                          f"signing certificate this node holds for {POST} is not trusted")
