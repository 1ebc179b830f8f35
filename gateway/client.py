"""Client side of a participant's application: a TOML client profile → an mTLS channel + bearer token.

Profile keys: ``participant``, ``address``, ``ca``, ``cert``, ``key`` and a ``[token]`` table with either
``file`` (a token issued beforehand) or, for the demo, ``issuer_key`` + ``issuer`` + ``audience`` +
``scopes`` (+ ``lifetime_s``) to mint short-lived certificate-bound tokens on the fly.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import grpc

from gateway.crypto.tokens import issue_token
from gateway.errors import ConfigError, FieldViolation

DEFAULT_SCOPES = ("submit", "receive", "status")


@dataclass(frozen=True)
class ClientProfile:
    path: Path
    participant: str
    address: str
    ca: Path
    cert: Path
    key: Path
    token_file: Path | None
    issuer_key: Path | None
    issuer: str
    audience: str
    scopes: tuple[str, ...]
    lifetime_s: int

    @classmethod
    def load(cls, path: str | Path) -> ClientProfile:
        path = Path(path).resolve()
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([FieldViolation(str(path), "client profile not found")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None
        problems: list[FieldViolation] = []

        def req(key: str) -> str:
            v = data.get(key)
            if not isinstance(v, str) or not v:
                problems.append(FieldViolation(key, "missing"))
                return ""
            return v

        def file(table: dict[str, object], key: str, prefix: str = "", required: bool = True) -> Path | None:
            v = table.get(key)
            if v is None:
                if required:
                    problems.append(FieldViolation(prefix + key, "missing"))
                return None
            p = (path.parent / str(v)).resolve()
            if not p.is_file():
                problems.append(FieldViolation(prefix + key, f"file not found: {p}"))
            return p

        tok = data.get("token", {})
        participant, address = req("participant"), req("address")
        ca, cert, key = file(data, "ca"), file(data, "cert"), file(data, "key")
        token_file = file(tok, "file", "token.", required=False)
        issuer_key = file(tok, "issuer_key", "token.", required=False)
        if token_file is None and issuer_key is None:
            problems.append(FieldViolation("token", "needs file (a token) or issuer_key (demo token minting)"))
        if problems:
            raise ConfigError(problems)
        return cls(path=path, participant=participant, address=address, ca=ca, cert=cert, key=key,  # type: ignore[arg-type]
                   token_file=token_file, issuer_key=issuer_key, issuer=str(tok.get("issuer", "")),
                   audience=str(tok.get("audience", "")), scopes=tuple(tok.get("scopes", DEFAULT_SCOPES)),
                   lifetime_s=int(tok.get("lifetime_s", 600)))


class TokenSource:
    """Hands out a valid bearer token, minting a fresh one shortly before the old one expires."""

    def __init__(self, profile: ClientProfile, scopes: tuple[str, ...] | None = None):
        self.profile = profile
        self.scopes = scopes or profile.scopes
        self._token = ""
        self._renew_at = 0.0

    def token(self) -> str:
        p = self.profile
        if p.token_file is not None:
            return p.token_file.read_text().strip()
        now = time.time()
        if not self._token or now >= self._renew_at:
            assert p.issuer_key is not None
            self._token = issue_token(signing_key_pem=p.issuer_key.read_bytes(), issuer=p.issuer,
                                      audience=p.audience, participant=p.participant, scopes=self.scopes,
                                      client_cert_pem=p.cert.read_bytes(), lifetime_s=p.lifetime_s, now=now)
            self._renew_at = now + p.lifetime_s * 0.8
        return self._token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token()}"),)


def channel_credentials(profile: ClientProfile) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=profile.ca.read_bytes(),
                                        private_key=profile.key.read_bytes(),
                                        certificate_chain=profile.cert.read_bytes())


CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def secure_channel(profile: ClientProfile) -> grpc.Channel:
    return grpc.secure_channel(profile.address, channel_credentials(profile), options=CHANNEL_OPTIONS)


def aio_channel(profile: ClientProfile) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(profile.address, channel_credentials(profile), options=CHANNEL_OPTIONS)
