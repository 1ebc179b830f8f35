"""Who is calling: the mTLS client certificate plus a certificate-bound JWT bearer token (RFC 8705).

A participant's application presents its client certificate (chained to the federation CA, checked
against the CRL) and a JWT from the node's token issuer: issuer and audience checked, expiry required,
ES256/EdDSA only, ``sub`` equal to the certificate's participant and ``cnf.x5t#S256`` equal to the
certificate's SHA-256. Peer nodes present their node certificate only; ``gateway.transport.peering_service``
pins it against the directory. ``AuthInterceptor`` applies this to every RPC and hands the servicer an
``Identity`` through a context variable.

This module holds the checks and the token issuer (the only user of ``jwt``); the gRPC interceptor that applies
them is ``gateway.transport.auth``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.errors import GatewayError, PermissionDenied, Unauthenticated
from gateway.crypto.certificates import fingerprint
from gateway.crypto.jws import AnySigningKey, signing_alg
from gateway.encoding import b64url, canonical_json
from gateway.crypto.trust import Purpose, TrustStore

ALGORITHMS = ["ES256", "EdDSA"]
SCOPES = ("submit", "receive", "status", "assist", "admin")

# Scope each RPC needs. "node" means a peer node's certificate, no token. None means no identity
# beyond the TLS handshake (health checks, reflection), so that probes and grpcurl work.
METHOD_SCOPES: dict[str, str | None] = {
    "/swg.v1.Exchange/Submit": "submit",
    "/swg.v1.Exchange/SubmitStream": "submit",
    "/swg.v1.Exchange/Receive": "receive",
    "/swg.v1.Exchange/Acknowledge": "receive",
    "/swg.v1.Exchange/GetStatus": "status",
    "/swg.v1.Exchange/TrackItems": "status",
    "/swg.v1.Peering/Relay": "node",
    "/swg.v1.Admin/GetDirectory": "admin",
    "/swg.v1.Admin/VerifyAudit": "admin",
    "/swg.v1.Admin/GetKpis": "admin",
    "/swg.v1.Admin/ListDeliveries": "admin",
    "/swg.v1.Admin/RetryDeliveries": "admin",
    "/swg.v1.Admin/ExportEvidence": "admin",
    "/swg.v1.Admin/GetAuditStatus": "admin",
    "/swg.v1.Admin/ListAssistanceCases": "assist",
    "/swg.v1.Admin/GetOverview": "admin",
    "/swg.v1.Admin/SearchMessages": "admin",
    "/swg.v1.Admin/GetMessage": "admin",
    "/swg.v1.Admin/TrackNodeItems": "admin",
}
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: a participant (with token scopes) or a peer node."""

    principal: str
    kind: str  # "participant" or "node"
    scopes: frozenset[str]
    cert_sha256: bytes


def cert_thumbprint(cert_der: bytes) -> str:
    """RFC 8705 ``x5t#S256``: base64url (no padding) of the certificate's SHA-256."""
    return base64.urlsafe_b64encode(fingerprint(cert_der)).rstrip(b"=").decode()


class _TtlCache:
    """Small thread-safe LRU whose entries carry their own expiry (token exp, cert notAfter)."""

    def __init__(self, size: int = 10_000):
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any, now: float) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if hit[0] <= now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: Any, value: Any, expires: float) -> None:
        with self._lock:
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass(frozen=True)
class _PeerCert:
    der: bytes
    sha256: bytes
    principal: str
    not_after: float


class Authenticator:
    """Checks certificates and tokens; caches both until they expire (verification is on the hot path)."""

    def __init__(self, trust: TrustStore, *, issuer: str, audience: str, token_certificate: Path | bytes,
                 max_lifetime_s: int, leeway_s: int = 30):
        self.trust = trust
        self.issuer = issuer
        self.audience = audience
        pem = token_certificate if isinstance(token_certificate, bytes) else Path(token_certificate).read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        trust.verify(cert, Purpose.TOKEN_SIGNING)
        self._token_cert = cert
        # Set when a CRL reload found the token issuer's own certificate revoked: no token is accepted then.
        self._token_refused = ""
        key = cert.public_key()
        # ES256 and EdDSA are the only token algorithms: a token certificate with any other key is a config error.
        if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
            raise ValueError("the token signing certificate must hold an EC P-256 or Ed25519 key")
        self._token_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey = key
        self.max_lifetime_s = max_lifetime_s
        self.leeway_s = leeway_s
        self._certs = _TtlCache()
        self._tokens = _TtlCache()

    def clear_caches(self) -> None:
        """After a CRL reload: every certificate and token is checked again."""
        self._certs.clear()
        self._tokens.clear()

    def crl_reloaded(self) -> str:
        """A new CRL is in force: drop every cached check and check the token issuer's certificate again.

        Returns why the token certificate is no longer trusted ("" when it is); while it is not, every
        bearer token is refused.
        """
        self.clear_caches()
        try:
            self.trust.verify(self._token_cert, Purpose.TOKEN_SIGNING)
            self._token_refused = ""
        except GatewayError as err:
            self._token_refused = err.message
        return self._token_refused

    def recheck(self, method: str, pem: bytes) -> None:
        """Raise if the certificate a call was admitted with would not be admitted now (e.g. revoked)."""
        if METHOD_SCOPES.get(method) == "node":
            self.peer_certificate(pem, Purpose.NODE_TLS)
            return
        self.peer_certificate(pem, Purpose.TLS_CLIENT)
        if self._token_refused:
            raise Unauthenticated(f"this node's token issuer certificate is no longer trusted ({self._token_refused})")

    def peer_certificate(self, pem: bytes, purpose: Purpose) -> _PeerCert:
        now = time.time()
        key = (pem, purpose)
        hit: _PeerCert | None = self._certs.get(key, now)
        if hit is not None:
            return hit
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Unauthenticated("the client certificate cannot be parsed") from None
        principal = self.trust.verify(cert, purpose)
        der = cert.public_bytes(serialization.Encoding.DER)
        not_after = cert.not_valid_after_utc.timestamp()
        peer = _PeerCert(der, fingerprint(der), principal, not_after)
        # A CRL reload empties this cache (crl_reloaded); the 5-minute cap is a second line of defence.
        self._certs.put(key, peer, min(not_after, now + 300))
        return peer

    def token_claims(self, token: str, peer: _PeerCert) -> dict[str, Any]:
        now = time.time()
        key = (token, peer.sha256)
        if self._token_refused:
            raise Unauthenticated(f"this node's token issuer certificate is no longer trusted "
                                  f"({self._token_refused}); no bearer token is accepted")
        cached: dict[str, Any] | None = self._tokens.get(key, now)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"bearer token is malformed: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(f"bearer token algorithm {header.get('alg')!r} is not allowed (ES256, EdDSA only)")
        try:
            claims = jwt.decode(
                token, self._token_key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_s, options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("bearer token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("bearer token is not yet valid") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"bearer token audience is not {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"bearer token issuer is not {self.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("bearer token signature does not verify with this node's token issuer key") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"bearer token rejected: {exc}") from None
        for name in ("exp", "iat"):
            if type(claims[name]) not in (int, float):  # a bool is an int to Python, and a string slips past some libraries
                raise Unauthenticated(f"bearer token claim {name!r} must be a NumericDate (seconds since the epoch)")
        for name in ("sub", "iss"):
            if not isinstance(claims[name], str):
                raise Unauthenticated(f"bearer token claim {name!r} must be a string")
        if claims["exp"] - claims["iat"] > self.max_lifetime_s:
            raise Unauthenticated(f"bearer token lifetime exceeds {self.max_lifetime_s} s")
        if claims["sub"] != peer.principal:
            raise Unauthenticated(f"bearer token is for {claims['sub']!r} but the client certificate is "
                                  f"{peer.principal!r}")
        cnf = claims.get("cnf")
        if not isinstance(cnf, dict) or "x5t#S256" not in cnf:
            raise Unauthenticated("bearer token is not bound to a certificate (cnf.x5t#S256 missing)")
        if cnf["x5t#S256"] != base64.urlsafe_b64encode(peer.sha256).rstrip(b"=").decode():
            raise Unauthenticated("bearer token is bound to another certificate than the one presented")
        self._tokens.put(key, claims, min(float(claims["exp"]) + self.leeway_s, peer.not_after))
        return claims

    def authenticate(self, method: str, auth_context: dict[str, Iterable[bytes]],
                     metadata: Iterable[tuple[str, Any]]) -> Identity | None:
        need = METHOD_SCOPES.get(method)
        if method.startswith(OPEN_PREFIXES):
            return None
        if method not in METHOD_SCOPES:
            raise PermissionDenied(f"no such method or not exposed: {method}")
        pems = list(auth_context.get("x509_pem_cert", []))
        if not pems:
            raise Unauthenticated("a client certificate is required")
        if need == "node":
            peer = self.peer_certificate(pems[0], Purpose.NODE_TLS)
            return Identity(peer.principal, "node", frozenset(), peer.sha256)
        peer = self.peer_certificate(pems[0], Purpose.TLS_CLIENT)
        token = None
        for k, v in metadata:
            if k == "authorization":
                value = v.decode() if isinstance(v, bytes) else str(v)
                if value[:7].lower() == "bearer ":
                    token = value[7:].strip()
        if not token:
            raise Unauthenticated("a bearer token is required (authorization: Bearer <JWT>)")
        claims = self.token_claims(token, peer)
        scopes = frozenset(str(claims.get("scope", "")).split())
        if need is not None and need not in scopes:
            raise PermissionDenied(f"the token lacks scope {need!r} needed for {method.rsplit('/', 1)[-1]}")
        return Identity(peer.principal, "participant", scopes, peer.sha256)


def issue_token(*, signing_key_pem: bytes | None = None, issuer: str, audience: str, participant: str,
                scopes: Iterable[str], client_cert_pem: bytes, lifetime_s: int = 600, now: float | None = None,
                signer: AnySigningKey | None = None) -> str:
    """Mint a certificate-bound bearer token (for the demo and tests; production uses the agency's IdP).

    The key is a PEM (``signing_key_pem``) or a ``signer`` whose key stays elsewhere (a PKCS#11 token)."""
    key: Any
    if signer is not None:
        key = signer
        if isinstance(signer, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
            signer = None
    elif signing_key_pem is not None:
        key = serialization.load_pem_private_key(signing_key_pem, password=None)
    else:
        raise ValueError("issue_token needs signing_key_pem or signer")
    cert = x509.load_pem_x509_certificate(client_cert_pem)
    if signer is not None:
        alg = signing_alg(signer)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        alg = "ES256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        alg = "EdDSA"
    else:
        raise ValueError("the token signing key must be ECDSA P-256 or Ed25519")
    bad = sorted(set(scopes) - set(SCOPES))
    if bad:
        raise ValueError(f"unknown scope(s) {bad}; known: {', '.join(SCOPES)}")
    iat = int(now if now is not None else time.time())
    claims = {
        "iss": issuer, "aud": audience, "sub": participant, "iat": iat, "nbf": iat, "exp": iat + lifetime_s,
        "jti": str(uuid.uuid4()), "scope": " ".join(scopes),
        "cnf": {"x5t#S256": cert_thumbprint(cert.public_bytes(serialization.Encoding.DER))},
    }
    if signer is not None:
        # The JWS compact form pyjwt would produce, signed by the token (pyjwt needs the private key itself).
        signing_input = b64url(canonical_json({"alg": alg, "typ": "JWT"})) + "." + b64url(canonical_json(claims))
        return signing_input + "." + b64url(signer.sign(signing_input.encode("ascii")))
    return jwt.encode(claims, key, algorithm=alg)


# -- the interceptor -------------------------------------------------------------------------------
