"""Who may call: mTLS client certificates (CA, validity, CRL) and certificate-bound JWTs.

Each attack must be refused with the right status code, store nothing, and leave the node serving.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from gateway.crypto import pki
from gateway.api.swg.v1 import peering_pb2, peering_pb2_grpc
from gateway.transport.auth import cert_thumbprint, issue_token
from gateway.errors import Unauthenticated
from gateway.crypto.trust import Purpose
from tests.security.harness import CUSTOMS, POST, TAX, SecurityNode, client_cert, submit_request
from tests.support import tally
from gateway.testing.nodes import Client
from gateway.testing.federation import Federation, other_ca, utcnow

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
# A TLS handshake the server refuses never reaches the gateway: the client sees the channel unusable.
HANDSHAKE_REFUSED = grpc.StatusCode.UNAVAILABLE


def channel(secnode: SecurityNode, *, cert: Path | None = None, key: Path | None = None) -> grpc.Channel:
    fed = secnode.fed
    creds = grpc.ssl_channel_credentials(
        root_certificates=fed.paths.ca_cert.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None)
    return grpc.secure_channel(secnode.address, creds)


def submit_with(c: Client, token: str | None = None) -> Any:
    md = (("authorization", f"Bearer {token if token is not None else c.token}"),)
    return c.exchange.Submit(submit_request(), metadata=md, timeout=10)


def token_for(fed: Federation, participant: str, cert_pem: bytes, **kw: Any) -> str:
    """A token from de-node's issuer unless ``kw`` says otherwise (key, issuer, audience, time...)."""
    args: dict[str, Any] = {"signing_key_pem": fed.paths.nodes["de-node"].token_key.read_bytes(),
                            "issuer": "swg:de-node", "audience": "swg:de-node", "scopes": ("submit",),
                            "lifetime_s": 600, **kw}
    return issue_token(participant=participant, client_cert_pem=cert_pem, **args)


def b64(obj: Any) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_for(fed: Federation, participant: str, **over: Any) -> dict[str, Any]:
    cert = pki.load_cert(fed.paths.participants[participant].client_cert)
    now = int(time.time())
    claims = {"iss": "swg:de-node", "aud": "swg:de-node", "sub": participant, "iat": now, "nbf": now,
              "exp": now + 600, "scope": "submit", "cnf": {"x5t#S256": cert_thumbprint(cert.public_bytes(Encoding.DER))}}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


# --- TLS --------------------------------------------------------------------------------------------


def test_no_client_certificate_is_refused_at_the_handshake(secnode: SecurityNode) -> None:
    ch = channel(secnode)
    c = Client(POST, ch, secnode.client(POST).token)
    secnode.assert_refused("tls", lambda: submit_with(c), HANDSHAKE_REFUSED)
    ch.close()


def test_client_certificate_from_another_ca_is_refused_at_the_handshake(secnode: SecurityNode, tmp_path: Path) -> None:
    rogue = client_cert(secnode.fed, tmp_path, "rogue", POST, ca=other_ca())
    ch = channel(secnode, cert=rogue.cert, key=rogue.key)
    token = token_for(secnode.fed, POST, rogue.cert.read_bytes())
    secnode.assert_refused("tls", lambda: submit_with(Client(POST, ch, token)), HANDSHAKE_REFUSED)
    ch.close()


def test_expired_client_certificate_is_refused(secnode: SecurityNode, tmp_path: Path) -> None:
    old = client_cert(secnode.fed, tmp_path, "expired", POST, not_before=utcnow() - dt.timedelta(days=10),
                      not_after=utcnow() - dt.timedelta(days=1))
    c = secnode.client(POST, cert=old.cert, key=old.key)
    secnode.assert_refused("tls", lambda: submit_with(c), HANDSHAKE_REFUSED)


def test_revoked_client_certificate_is_refused_by_the_crl_check(secnode: SecurityNode) -> None:
    c = secnode.client(POST, cert=secnode.revoked.cert, key=secnode.revoked.key)
    secnode.assert_refused("tls", lambda: submit_with(c), UNAUTH, "revoked")


def test_node_certificate_cannot_be_used_as_a_participant_client(secnode: SecurityNode) -> None:
    np = secnode.fed.paths.nodes["fr-node"]
    ch = channel(secnode, cert=np.tls_cert, key=np.tls_key)
    token = token_for(secnode.fed, POST, np.tls_cert.read_bytes())
    secnode.assert_refused("tls", lambda: submit_with(Client(POST, ch, token)), UNAUTH, "participant")
    ch.close()


# The remaining Relay cases check this node's own Authenticator exactly as the interceptor calls it for
# that method (a certificate from another CA cannot even complete the TLS handshake to make the call).
RELAY = "/swg.v1.Peering/Relay"


def relay_auth(secnode: SecurityNode, cert_pem: bytes) -> Any:
    return secnode.runner.node.authenticator.authenticate(RELAY, {"x509_pem_cert": [cert_pem]}, ())


def test_relay_with_a_participant_client_certificate_is_refused(secnode: SecurityNode) -> None:
    # Over the wire: a participant's valid mTLS certificate and bearer token calling Peering.Relay.
    post = secnode.client(POST)
    stub = peering_pb2_grpc.PeeringStub(post.channel)

    def relay() -> list[Any]:
        return list(stub.Relay(iter([peering_pb2.RelayRequest(relay_id="1")]), metadata=post.metadata, timeout=30))

    secnode.assert_refused("peering", relay, grpc.StatusCode.UNAUTHENTICATED, "node-tls")


def test_relay_with_a_node_certificate_from_another_ca_is_refused(secnode: SecurityNode, tmp_path: Path) -> None:
    rogue = client_cert(secnode.fed, tmp_path, "rogue-node", "", ca=other_ca(), profile=pki.Profile.NODE_TLS,
                        node="fr-node")
    with pytest.raises(Unauthenticated, match="not issued by the federation CA"):
        relay_auth(secnode, rogue.cert.read_bytes())
    tally.attack("peering", True)
    # ... and such a node cannot even complete the TLS handshake.
    ch = channel(secnode, cert=rogue.cert, key=rogue.key)
    secnode.assert_refused("peering", lambda: ch.unary_unary(RELAY)(b"", timeout=10), HANDSHAKE_REFUSED)
    ch.close()


def test_relay_with_the_right_node_certificate_is_accepted_by_auth(secnode: SecurityNode) -> None:
    ident = relay_auth(secnode, secnode.fed.paths.nodes["fr-node"].tls_cert.read_bytes())
    assert (ident.kind, ident.principal) == ("node", "fr-node")


# --- JWT --------------------------------------------------------------------------------------------


def test_token_with_alg_none_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(secnode.fed, POST))}."
    secnode.assert_refused("jwt", lambda: submit_with(c, forged), UNAUTH, "algorithm 'none'")


def test_token_hs256_signed_with_the_public_key_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    public_pem = secnode.fed.paths.nodes["de-node"].token_cert.read_bytes()
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims_for(secnode.fed, POST))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    secnode.assert_refused("jwt", lambda: submit_with(c, forged), UNAUTH, "'HS256' is not allowed")


@pytest.mark.parametrize(("case", "kw", "detail"), [
    ("expired", {"now": time.time() - 7200}, "expired"),
    ("not yet valid", {"now": time.time() + 7200}, "not yet valid"),
    ("wrong audience", {"audience": "swg:fr-node"}, "audience"),
    ("wrong issuer", {"issuer": "swg:fr-node"}, "issuer"),
    ("lifetime too long", {"lifetime_s": 86_400}, "lifetime"),
])
def test_token_outside_its_validity_or_for_another_node_is_refused(secnode: SecurityNode, case: str,
                                                                    kw: dict[str, Any], detail: str) -> None:
    c = secnode.client(POST)
    pem = secnode.fed.paths.participants[POST].client_cert.read_bytes()
    secnode.assert_refused("jwt", lambda: submit_with(c, token_for(secnode.fed, POST, pem, **kw)), UNAUTH, detail)


def test_token_signed_by_another_nodes_issuer_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    pem = secnode.fed.paths.participants[POST].client_cert.read_bytes()
    fr_key = secnode.fed.paths.nodes["fr-node"].token_key.read_bytes()
    token = token_for(secnode.fed, POST, pem, signing_key_pem=fr_key)
    secnode.assert_refused("jwt", lambda: submit_with(c, token), UNAUTH, "signature")


def test_token_of_another_participant_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    customs_token = secnode.client(CUSTOMS).token
    secnode.assert_refused("jwt", lambda: submit_with(c, customs_token), UNAUTH, "is for 'DE/CUSTOMS/MAIN'")


def test_unbound_token_without_cnf_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    key = secnode.fed.paths.nodes["de-node"].token_key.read_bytes()
    token = jwt.encode(claims_for(secnode.fed, POST, cnf=None), load_pem_private_key(key, None), algorithm="ES256")
    secnode.assert_refused("jwt", lambda: submit_with(c, token), UNAUTH, "not bound")


def test_token_bound_to_another_certificate_of_the_same_participant_is_refused(secnode: SecurityNode,
                                                                               tmp_path: Path) -> None:
    c = secnode.client(POST)
    other = client_cert(secnode.fed, tmp_path, "second-post", POST)
    token = token_for(secnode.fed, POST, other.cert.read_bytes())
    secnode.assert_refused("jwt", lambda: submit_with(c, token), UNAUTH, "bound to another certificate")


def test_token_replayed_from_another_certificate_is_refused(secnode: SecurityNode, tmp_path: Path) -> None:
    """A token seen on the wire (here: the real POST client's) is useless with any other certificate."""
    victim = secnode.client(POST)
    submit_with(victim)  # the token works for its own certificate
    thief_cert = client_cert(secnode.fed, tmp_path, "thief-post", POST)
    thief = secnode.client(POST, cert=thief_cert.cert, key=thief_cert.key)
    secnode.assert_refused("jwt", lambda: submit_with(thief, victim.token), UNAUTH, "bound to another certificate")
    tax = secnode.client(TAX)
    secnode.assert_refused("jwt", lambda: submit_with(tax, victim.token), UNAUTH, "is for 'DE/POST/MAIN'")


def test_token_without_the_submit_scope_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST, scopes=("status", "receive"))
    secnode.assert_refused("jwt", lambda: submit_with(c), grpc.StatusCode.PERMISSION_DENIED, "lacks scope 'submit'")


def test_missing_or_malformed_bearer_token_is_refused(secnode: SecurityNode) -> None:
    c = secnode.client(POST)
    secnode.assert_refused("jwt", lambda: c.exchange.Submit(submit_request(), timeout=10), UNAUTH, "bearer token")
    secnode.assert_refused("jwt", lambda: submit_with(c, "not.a.jwt"), UNAUTH, "malformed")


def test_the_authenticator_checks_tls_client_purpose(secnode: SecurityNode) -> None:
    """The signing certificate of a participant is not a TLS client certificate."""
    trust = secnode.runner.node.trust
    signing = pki.load_cert(secnode.fed.paths.participants[POST].signing_cert)
    with pytest.raises(Unauthenticated):
        trust.verify(signing, Purpose.TLS_CLIENT)
