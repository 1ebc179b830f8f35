"""Node configuration (one TOML file per node) and the federation directory, as typed settings.

Every problem is reported with the exact key it concerns (``participants[1].signing_key: file not
found``), all at once, so that ``gateway config check`` tells an operator everything in one run.
Relative paths are resolved against the directory of the file that names them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.federation.signature import DirectorySignatureError, certificate_sha256_hex, signature_path
from gateway.federation.signature import verify as verify_signature
from gateway.crypto.rotation import KEK_MAX_AGE_S, KEK_MAX_MESSAGES
from gateway.errors import ConfigError, FieldViolation
from gateway.crypto.trust import TrustStore

PARTICIPANT_ID = re.compile(r"^[A-Z]{2}/[A-Z]+/[A-Z0-9_-]+$")
NODE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ADDRESS = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
MAX_PROCESSES = 16
DEFAULT_GROUP_COMMIT_WAIT_MS = 4.0
MAX_GROUP_COMMIT_WAIT_MS = 50.0
# A KEK wraps content keys with random 96-bit AES-GCM nonces: stay far below 2^32 wraps per key.
MAX_KEK_MESSAGES = 1_000_000
MAX_KEK_AGE_S = 86_400
SCOPES = frozenset({"submit", "receive", "status", "assist", "admin"})


@dataclass(frozen=True)
class TlsSettings:
    ca: Path
    cert: Path
    key: Path
    crl: Path | None


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    # Certificate of the key that signs bearer tokens for this node; the key is needed only to issue.
    signing_certificate: Path
    signing_key: Path | None
    max_lifetime_s: int
    # Leeway for clock skew between the token issuer and this node.
    leeway_s: int


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    default_ttl_s: int
    max_ttl_s: int
    visibility_timeout_s: float
    max_in_flight_per_stream: int
    # Token bucket per participant: sustained rate and burst; 0 disables.
    rate_per_s: float
    burst: int


@dataclass(frozen=True)
class DeliverySettings:
    poll_interval_s: float
    expiry_sweep_s: float
    retry_initial_s: float
    retry_max_s: float
    retry_multiplier: float
    retry_jitter: float
    max_attempts: int


@dataclass(frozen=True)
class AuditSettings:
    # A signed checkpoint after this many new entries, or after this many seconds with new entries.
    checkpoint_every: int = 1000
    checkpoint_interval_s: float = 60.0


@dataclass(frozen=True)
class EnvelopeSettings:
    # A sender's key-encryption key per recipient certificate is replaced after this many messages or
    # seconds, whichever first; 0 or 1 message (or 0 s) = a fresh HPKE key wrap per message.
    kek_max_messages: int = KEK_MAX_MESSAGES
    kek_max_age_s: float = KEK_MAX_AGE_S


@dataclass(frozen=True)
class HostedParticipant:
    id: str
    signing_key: Path
    signing_cert: Path
    encryption_key: Path
    encryption_cert: Path


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    name: str
    listen: str
    metrics_listen: str | None
    directory: Path
    database_url: str
    database_auto_migrate: bool
    tls: TlsSettings
    tokens: TokenSettings
    limits: Limits
    delivery: DeliverySettings
    participants: tuple[HostedParticipant, ...]
    log_level: str
    # How long a write waits for a database lock before the submit is refused UNAVAILABLE.
    database_busy_timeout_ms: int = 30_000
    # SQLite only: cap on database pages (PRAGMA max_page_count); 0 = no cap. Reaching it refuses
    # submits RESOURCE_EXHAUSTED like a full disk, which is how the fault tests simulate one.
    database_max_pages: int = 0
    # How long the writer may hold a commit for submits still on their way (gateway.store.engine.Writer).
    database_group_commit_wait_ms: float = DEFAULT_GROUP_COMMIT_WAIT_MS
    audit: AuditSettings = field(default_factory=AuditSettings)
    envelope: EnvelopeSettings = field(default_factory=EnvelopeSettings)
    # The federation CA's detached JWS over the directory file (default: <directory>.jws beside it).
    directory_signature: Path | None = None
    # Development only: run with an unsigned directory (loudly logged). Never in production.
    allow_unsigned_directory: bool = False
    # How often the node looks for a newer signed directory.
    directory_poll_s: float = 5.0
    # Worker processes sharing the listen port (SO_REUSEPORT); 1 = the node is one process.
    processes: int = 1


@dataclass(frozen=True)
class DirectoryNode:
    name: str
    address: str
    # The node's TLS certificate: peers pin it (not just any certificate of the federation).
    tls_certificate: Path
    # SHA-256 (hex) of that certificate, computed at load; equal to the directory's pin when it has one.
    tls_certificate_sha256: str = ""


@dataclass(frozen=True)
class DirectoryParticipant:
    id: str
    node: str
    name: str
    encryption_certificate: Path
    # Preferred format per document type, e.g. {"swg.aed.v1": "wco.ecommerce.v1"}.
    formats: dict[str, str]
    encryption_certificate_sha256: str = ""


@dataclass(frozen=True)
class Route:
    """An access right and, when ``default``, a default route.

    ``senders``/``recipients`` are patterns (``*`` matches one id component, e.g. ``*/POST/*``);
    recipients may also be placeholders resolved per message, e.g. ``@item_sender``.
    ``when`` holds routing attributes that must all match (e.g. destination_country = "DE").
    """

    document_type: str
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    when: dict[str, str]
    default: bool


@dataclass(frozen=True)
class Agreement:
    """A bilateral mutual-assistance agreement: who may ask whom, for what, on which legal basis."""

    reference: str
    legal_basis: str
    parties: tuple[str, ...]
    # Administrations that may ask, and those that may be asked (patterns like routes).
    requesting: tuple[str, ...]
    requested: tuple[str, ...]
    # Empty means any.
    information_categories: tuple[str, ...]
    assistance_types: tuple[str, ...]


@dataclass(frozen=True)
class DutyRule:
    """One dated duty rule of a destination country (``[[revenue.CC.duty]]``).

    ``de_minimis``: no duty at or below ``threshold``. ``flat_per_subheading``: ``amount`` per distinct
    tariff subheading for items valued at or below ``threshold`` (None: any value), e.g. the EU's EUR 3
    from 1 July 2026.
    """

    effective_from: dt.date | None
    kind: str
    threshold: str | None
    amount: str | None


@dataclass(frozen=True)
class RevenueRules:
    """Revenue rules of one destination country: de minimis thresholds and the collection model."""

    country: str
    currency: str
    # Duty is not assessed at or below this intrinsic value; None: no duty de minimis.
    duty_de_minimis: str | None
    # VAT/GST is not collected at import at or below this value; None: due on every import.
    vat_de_minimis: str | None
    # "vendor", "intermediary", "buyer" or "hybrid" for low-value items; IOSS-covered items are "vendor".
    collection_model: str
    tax_authority: str
    # Dated duty rules, oldest first; the one in force at the decision time replaces duty_de_minimis.
    duty: tuple[DutyRule, ...] = ()


@dataclass(frozen=True)
class Directory:
    path: Path
    name: str
    version: int
    nodes: dict[str, DirectoryNode]
    participants: dict[str, DirectoryParticipant]
    routes: tuple[Route, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    revenue: dict[str, RevenueRules] = field(default_factory=dict)
    # The exact bytes loaded (what the signature covers), their SHA-256 (hex) and the detached JWS
    # ("" when running unsigned under allow_unsigned_directory).
    data: bytes = field(repr=False, default=b"")
    sha256: str = ""
    signature: str = field(repr=False, default="")
    # Certificate keys without a *_sha256 pin; a signed directory must have none.
    unpinned: tuple[str, ...] = ()


class _Reader:
    """Reads typed values out of a TOML table, recording problems under their full key path."""

    def __init__(self, base: Path, problems: list[FieldViolation]):
        self.base = base
        self.problems = problems

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(FieldViolation(key, reason))

    def table(self, data: dict[str, Any], key: str, prefix: str = "", required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "missing table")
            return {}
        if not isinstance(value, dict):
            self.problem(prefix + key, "must be a table")
            return {}
        return value

    def str_(self, data: dict[str, Any], key: str, prefix: str, default: str | None = None,
             pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = data.get(key, default)
        if value is None:
            self.problem(prefix + key, "missing")
            return ""
        if not isinstance(value, str) or not value:
            self.problem(prefix + key, "must be a non-empty string")
            return ""
        if pattern is not None and not pattern.match(value):
            self.problem(prefix + key, f"{value!r} is not {what or 'valid'}")
        return value

    def num(self, data: dict[str, Any], key: str, prefix: str, default: float | int,
            minimum: float = 0, integer: bool = True) -> Any:
        value = data.get(key, default)
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.problem(prefix + key, "must be an integer" if integer else "must be a number")
            return default
        if value < minimum:
            self.problem(prefix + key, f"must be >= {minimum}")
            return default
        return value

    def path(self, data: dict[str, Any], key: str, prefix: str, required: bool = True,
             must_exist: bool = True) -> Path | None:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(prefix + key, "missing")
            return None
        if not isinstance(value, str) or not value:
            self.problem(prefix + key, "must be a path string")
            return None
        p = (self.base / value).resolve()
        if must_exist and not p.is_file():
            self.problem(prefix + key, f"file not found: {p}")
        return p

    def unknown(self, data: dict[str, Any], allowed: set[str], prefix: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(prefix + key, "unknown key")


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError([FieldViolation(str(path), "file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None


def _database_url(url: str, base: Path) -> str:
    # A relative SQLite path is relative to the config file, like every other path in it.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


def load_node_config(path: str | Path) -> NodeConfig:
    path = Path(path).resolve()
    data = _load_toml(path)
    problems: list[FieldViolation] = []
    r = _Reader(path.parent, problems)
    r.unknown(data, {"node", "tls", "database", "tokens", "limits", "delivery", "participants", "logging", "audit",
                     "envelope"},
              "")

    node = r.table(data, "node")
    r.unknown(node, {"name", "listen", "metrics_listen", "directory", "directory_signature",
                     "allow_unsigned_directory", "directory_poll_s", "processes"}, "node.")
    name = r.str_(node, "name", "node.", pattern=NODE_NAME, what="a node name (lowercase letters, digits, -)")
    listen = r.str_(node, "listen", "node.", pattern=ADDRESS, what="host:port")
    metrics = node.get("metrics_listen")
    if metrics is not None:
        metrics = r.str_(node, "metrics_listen", "node.", pattern=ADDRESS, what="host:port")
    directory = r.path(node, "directory", "node.")
    directory_signature = r.path(node, "directory_signature", "node.", required=False, must_exist=False)
    allow_unsigned = node.get("allow_unsigned_directory", False)
    if not isinstance(allow_unsigned, bool):
        r.problem("node.allow_unsigned_directory", "must be true or false")
        allow_unsigned = False
    directory_poll_s = r.num(node, "directory_poll_s", "node.", 5.0, minimum=0.05, integer=False)
    processes = r.num(node, "processes", "node.", 1, minimum=1)
    if processes > MAX_PROCESSES:
        r.problem("node.processes", f"must be <= {MAX_PROCESSES}")
        processes = 1

    tls = r.table(data, "tls")
    r.unknown(tls, {"ca", "cert", "key", "crl"}, "tls.")
    tls_settings = TlsSettings(
        ca=r.path(tls, "ca", "tls.") or Path(),
        cert=r.path(tls, "cert", "tls.") or Path(),
        key=r.path(tls, "key", "tls.") or Path(),
        crl=r.path(tls, "crl", "tls.", required=False),
    )

    db = r.table(data, "database")
    r.unknown(db, {"url", "auto_migrate", "busy_timeout_ms", "max_pages", "group_commit_wait_ms"}, "database.")
    busy_timeout_ms = r.num(db, "busy_timeout_ms", "database.", 30_000)
    group_commit_wait_ms = r.num(db, "group_commit_wait_ms", "database.", DEFAULT_GROUP_COMMIT_WAIT_MS, integer=False)
    if group_commit_wait_ms > MAX_GROUP_COMMIT_WAIT_MS:
        r.problem("database.group_commit_wait_ms", f"must be <= {MAX_GROUP_COMMIT_WAIT_MS} (it adds to submit latency)")
        group_commit_wait_ms = DEFAULT_GROUP_COMMIT_WAIT_MS
    max_pages = r.num(db, "max_pages", "database.", 0)
    url = r.str_(db, "url", "database.")
    if url and not (url.startswith("sqlite") or url.startswith("postgresql")):
        r.problem("database.url", "must be a sqlite:/// or postgresql+psycopg:// URL")
    auto_migrate = db.get("auto_migrate", True)
    if not isinstance(auto_migrate, bool):
        r.problem("database.auto_migrate", "must be true or false")
        auto_migrate = True

    tok = r.table(data, "tokens")
    r.unknown(tok, {"issuer", "audience", "signing_certificate", "signing_key", "max_lifetime_s", "leeway_s"},
              "tokens.")
    tokens = TokenSettings(
        issuer=r.str_(tok, "issuer", "tokens."),
        audience=r.str_(tok, "audience", "tokens."),
        signing_certificate=r.path(tok, "signing_certificate", "tokens.") or Path(),
        signing_key=r.path(tok, "signing_key", "tokens.", required=False),
        max_lifetime_s=r.num(tok, "max_lifetime_s", "tokens.", 3600, minimum=1),
        leeway_s=r.num(tok, "leeway_s", "tokens.", 30),
    )

    lim = r.table(data, "limits", required=False)
    r.unknown(lim, {"max_message_bytes", "default_ttl_s", "max_ttl_s", "visibility_timeout_s",
                    "max_in_flight_per_stream", "rate_per_s", "burst"}, "limits.")
    limits = Limits(
        max_message_bytes=r.num(lim, "max_message_bytes", "limits.", 4 * 1024 * 1024, minimum=1024),
        default_ttl_s=r.num(lim, "default_ttl_s", "limits.", 7 * 86400, minimum=1),
        max_ttl_s=r.num(lim, "max_ttl_s", "limits.", 30 * 86400, minimum=1),
        visibility_timeout_s=r.num(lim, "visibility_timeout_s", "limits.", 30.0, minimum=0.1, integer=False),
        max_in_flight_per_stream=r.num(lim, "max_in_flight_per_stream", "limits.", 256, minimum=1),
        rate_per_s=r.num(lim, "rate_per_s", "limits.", 0.0, integer=False),
        burst=r.num(lim, "burst", "limits.", 0),
    )
    if limits.default_ttl_s > limits.max_ttl_s:
        r.problem("limits.default_ttl_s", "must not exceed limits.max_ttl_s")

    dl = r.table(data, "delivery", required=False)
    r.unknown(dl, {"poll_interval_s", "expiry_sweep_s", "retry_initial_s", "retry_max_s", "retry_multiplier",
                   "retry_jitter", "max_attempts"}, "delivery.")
    delivery = DeliverySettings(
        poll_interval_s=r.num(dl, "poll_interval_s", "delivery.", 1.0, minimum=0.01, integer=False),
        expiry_sweep_s=r.num(dl, "expiry_sweep_s", "delivery.", 10.0, minimum=0.01, integer=False),
        retry_initial_s=r.num(dl, "retry_initial_s", "delivery.", 1.0, minimum=0.01, integer=False),
        retry_max_s=r.num(dl, "retry_max_s", "delivery.", 300.0, minimum=0.01, integer=False),
        retry_multiplier=r.num(dl, "retry_multiplier", "delivery.", 2.0, minimum=1.0, integer=False),
        retry_jitter=r.num(dl, "retry_jitter", "delivery.", 0.2, integer=False),
        max_attempts=r.num(dl, "max_attempts", "delivery.", 0),
    )

    aud = r.table(data, "audit", required=False)
    r.unknown(aud, {"checkpoint_every", "checkpoint_interval_s"}, "audit.")
    audit_settings = AuditSettings(
        checkpoint_every=r.num(aud, "checkpoint_every", "audit.", 1000, minimum=1),
        checkpoint_interval_s=r.num(aud, "checkpoint_interval_s", "audit.", 60.0, minimum=0.05, integer=False),
    )

    env = r.table(data, "envelope", required=False)
    r.unknown(env, {"kek_max_messages", "kek_max_age_s"}, "envelope.")
    kek_max_messages = r.num(env, "kek_max_messages", "envelope.", KEK_MAX_MESSAGES)
    if kek_max_messages > MAX_KEK_MESSAGES:
        r.problem("envelope.kek_max_messages", f"must be <= {MAX_KEK_MESSAGES}")
        kek_max_messages = KEK_MAX_MESSAGES
    kek_max_age_s = r.num(env, "kek_max_age_s", "envelope.", KEK_MAX_AGE_S, integer=False)
    if kek_max_age_s > MAX_KEK_AGE_S:
        r.problem("envelope.kek_max_age_s", f"must be <= {MAX_KEK_AGE_S}")
        kek_max_age_s = KEK_MAX_AGE_S
    envelope_settings = EnvelopeSettings(kek_max_messages=kek_max_messages, kek_max_age_s=kek_max_age_s)

    log = r.table(data, "logging", required=False)
    r.unknown(log, {"level"}, "logging.")
    level = str(log.get("level", "info")).lower()
    if level not in {"debug", "info", "warning", "error"}:
        r.problem("logging.level", "must be debug, info, warning or error")

    participants: list[HostedParticipant] = []
    raw_parts = data.get("participants", [])
    if not isinstance(raw_parts, list) or not raw_parts:
        r.problem("participants", "at least one [[participants]] entry is required")
        raw_parts = []
    seen: set[str] = set()
    for i, p in enumerate(raw_parts):
        prefix = f"participants[{i}]."
        if not isinstance(p, dict):
            r.problem(f"participants[{i}]", "must be a table")
            continue
        r.unknown(p, {"id", "signing_key", "signing_cert", "encryption_key", "encryption_cert"}, prefix)
        pid = r.str_(p, "id", prefix, pattern=PARTICIPANT_ID, what="a participant id CC/ROLE/CODE")
        if pid in seen:
            r.problem(prefix + "id", f"{pid} is listed twice")
        seen.add(pid)
        participants.append(HostedParticipant(
            id=pid,
            signing_key=r.path(p, "signing_key", prefix) or Path(),
            signing_cert=r.path(p, "signing_cert", prefix) or Path(),
            encryption_key=r.path(p, "encryption_key", prefix) or Path(),
            encryption_cert=r.path(p, "encryption_cert", prefix) or Path(),
        ))

    if problems:
        raise ConfigError(problems)
    assert directory is not None
    return NodeConfig(
        path=path, name=name, listen=listen, metrics_listen=metrics, directory=directory,
        database_url=_database_url(url, path.parent), database_auto_migrate=auto_migrate, tls=tls_settings,
        tokens=tokens, limits=limits, delivery=delivery, participants=tuple(participants), log_level=level,
        database_busy_timeout_ms=busy_timeout_ms, database_max_pages=max_pages,
        database_group_commit_wait_ms=group_commit_wait_ms,
        audit=audit_settings, envelope=envelope_settings,
        directory_signature=directory_signature or signature_path(directory),
        allow_unsigned_directory=allow_unsigned, directory_poll_s=directory_poll_s, processes=processes,
    )


def parse_directory(data: dict[str, Any], path: Path) -> Directory:
    problems: list[FieldViolation] = []
    r = _Reader(path.parent, problems)
    r.unknown(data, {"federation", "nodes", "participants", "routes", "agreements", "revenue"}, "")
    fed = r.table(data, "federation")
    r.unknown(fed, {"name", "version"}, "federation.")
    name = r.str_(fed, "name", "federation.")
    version = r.num(fed, "version", "federation.", 0, minimum=1)

    unpinned: list[str] = []
    nodes: dict[str, DirectoryNode] = {}
    for i, n in enumerate(data.get("nodes", []) or []):
        prefix = f"nodes[{i}]."
        r.unknown(n, {"name", "address", "tls_certificate", "tls_certificate_sha256"}, prefix)
        nname = r.str_(n, "name", prefix, pattern=NODE_NAME, what="a node name")
        if nname in nodes:
            r.problem(prefix + "name", f"node {nname} is listed twice")
        nodes[nname] = DirectoryNode(
            name=nname,
            address=r.str_(n, "address", prefix, pattern=ADDRESS, what="host:port"),
            tls_certificate=(cert := r.path(n, "tls_certificate", prefix) or Path()),
            tls_certificate_sha256=_pin(r, n, "tls_certificate", prefix, cert, unpinned),
        )
    if not nodes:
        r.problem("nodes", "at least one [[nodes]] entry is required")

    participants: dict[str, DirectoryParticipant] = {}
    for i, p in enumerate(data.get("participants", []) or []):
        prefix = f"participants[{i}]."
        r.unknown(p, {"id", "node", "name", "encryption_certificate", "encryption_certificate_sha256", "formats"},
                  prefix)
        pid = r.str_(p, "id", prefix, pattern=PARTICIPANT_ID, what="a participant id CC/ROLE/CODE")
        if pid in participants:
            r.problem(prefix + "id", f"participant {pid} is listed twice")
        node = r.str_(p, "node", prefix)
        if node and nodes and node not in nodes:
            r.problem(prefix + "node", f"no node {node!r} in [[nodes]]")
        formats = p.get("formats", {})
        if not isinstance(formats, dict) or not all(isinstance(v, str) for v in formats.values()):
            r.problem(prefix + "formats", "must be a table of document type = format")
            formats = {}
        participants[pid] = DirectoryParticipant(
            id=pid, node=node, name=str(p.get("name", pid)),
            encryption_certificate=(cert := r.path(p, "encryption_certificate", prefix) or Path()),
            formats=dict(formats),
            encryption_certificate_sha256=_pin(r, p, "encryption_certificate", prefix, cert, unpinned),
        )

    routes: list[Route] = []
    for i, rt in enumerate(data.get("routes", []) or []):
        prefix = f"routes[{i}]."
        r.unknown(rt, {"document_type", "from", "to", "when", "default"}, prefix)
        doc = r.str_(rt, "document_type", prefix)
        senders = rt.get("from")
        recipients = rt.get("to")
        for key, value in (("from", senders), ("to", recipients)):
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                r.problem(prefix + key, "must be a non-empty list of participant patterns")
        when = rt.get("when", {})
        if not isinstance(when, dict):
            r.problem(prefix + "when", "must be a table of attribute = value")
            when = {}
        default = rt.get("default", True)
        if not isinstance(default, bool):
            r.problem(prefix + "default", "must be true or false")
        routes.append(Route(
            document_type=doc,
            senders=tuple(senders or ()) if isinstance(senders, list) else (),
            recipients=tuple(recipients or ()) if isinstance(recipients, list) else (),
            when={str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in when.items()},
            default=bool(default),
        ))

    agreements = _agreements(r, data)
    revenue = _revenue(r, data, participants)
    if problems:
        raise ConfigError(problems)
    return Directory(path=path, name=name, version=version, nodes=nodes, participants=participants,
                     routes=tuple(routes), raw=data, agreements=agreements, revenue=revenue,
                     unpinned=tuple(unpinned))


def _pin(r: _Reader, data: dict[str, Any], key: str, prefix: str, cert: Path, unpinned: list[str]) -> str:
    """The certificate's SHA-256 (hex); a mismatch with the directory's own pin is a problem."""
    pin = data.get(key + "_sha256")
    if pin is None:
        unpinned.append(prefix + key + "_sha256")
    elif not isinstance(pin, str) or not re.fullmatch(r"[0-9a-f]{64}", pin):
        r.problem(prefix + key + "_sha256", "must be the certificate's SHA-256 as 64 lowercase hex digits")
    if not cert.is_file():
        return ""
    try:
        actual = certificate_sha256_hex(cert)
    except ValueError as exc:
        r.problem(prefix + key, f"not a PEM certificate: {exc}")
        return ""
    if isinstance(pin, str) and pin != actual:
        r.problem(prefix + key + "_sha256", f"{cert} is not the pinned certificate (its SHA-256 is {actual})")
    return actual


def _str_list(r: _Reader, data: dict[str, Any], key: str, prefix: str, required: bool) -> tuple[str, ...]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value) or not all(isinstance(v, str) and v for v in value):
        r.problem(prefix + key, "must be a " + ("non-empty " if required else "") + "list of strings")
        return ()
    return tuple(value)


def _agreements(r: _Reader, data: dict[str, Any]) -> dict[str, Agreement]:
    out: dict[str, Agreement] = {}
    for i, a in enumerate(data.get("agreements", []) or []):
        prefix = f"agreements[{i}]."
        r.unknown(a, {"reference", "legal_basis", "parties", "requesting", "requested", "information_categories",
                      "assistance_types"}, prefix)
        ref = r.str_(a, "reference", prefix)
        if ref in out:
            r.problem(prefix + "reference", f"agreement {ref} is listed twice")
        parties = _str_list(r, a, "parties", prefix, True)
        requesting = _str_list(r, a, "requesting", prefix, True)
        requested = _str_list(r, a, "requested", prefix, True)
        for key, names in (("requesting", requesting), ("requested", requested)):
            for n in names:
                if n not in parties:
                    r.problem(prefix + key, f"{n} is not one of the agreement's parties")
        out[ref] = Agreement(ref, r.str_(a, "legal_basis", prefix), parties, requesting, requested,
                             _str_list(r, a, "information_categories", prefix, False),
                             _str_list(r, a, "assistance_types", prefix, False))
    return out


COLLECTION_MODELS = ("vendor", "intermediary", "buyer", "hybrid")
DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def _revenue(r: _Reader, data: dict[str, Any], participants: dict[str, DirectoryParticipant]) -> dict[str, RevenueRules]:
    table = data.get("revenue", {}) or {}
    if not isinstance(table, dict):
        r.problem("revenue", "must be a table of [revenue.CC] tables")
        return {}
    out: dict[str, RevenueRules] = {}
    for cc, v in table.items():
        prefix = f"revenue.{cc}."
        if not re.match(r"^[A-Z]{2}$", cc) or not isinstance(v, dict):
            r.problem(f"revenue.{cc}", "must be a [revenue.CC] table with a two-letter country code")
            continue
        r.unknown(v, {"currency", "duty_de_minimis", "vat_de_minimis", "collection_model", "tax_authority", "duty"},
                  prefix)
        thresholds = {}
        for key in ("duty_de_minimis", "vat_de_minimis"):
            val = v.get(key)
            if val is not None and (not isinstance(val, str) or not DECIMAL.match(val)):
                r.problem(prefix + key, "must be a decimal amount as text, e.g. \"150.00\"")
                val = None
            thresholds[key] = val
        model = r.str_(v, "collection_model", prefix, default="buyer")
        if model and model not in COLLECTION_MODELS:
            r.problem(prefix + "collection_model", f"must be one of {', '.join(COLLECTION_MODELS)}")
        tax = r.str_(v, "tax_authority", prefix)
        if tax and participants and tax not in participants:
            r.problem(prefix + "tax_authority", f"{tax} is not a participant in the directory")
        out[cc] = RevenueRules(cc, r.str_(v, "currency", prefix), thresholds["duty_de_minimis"],
                               thresholds["vat_de_minimis"], model, tax, _duty_rules(r, v.get("duty"), prefix))
    return out


DUTY_KINDS = ("de_minimis", "flat_per_subheading")


def _duty_rules(r: _Reader, table: Any, prefix: str) -> tuple[DutyRule, ...]:
    if table is None:
        return ()
    if not isinstance(table, list) or not all(isinstance(x, dict) for x in table):
        r.problem(prefix + "duty", "must be an array of [[revenue.CC.duty]] tables")
        return ()
    rules: list[DutyRule] = []
    for i, d in enumerate(table):
        p = f"{prefix}duty[{i}]."
        r.unknown(d, {"effective_from", "kind", "threshold", "amount"}, p)
        raw = d.get("effective_from")
        start: dt.date | None = None
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            start = raw
        elif isinstance(raw, str):
            try:
                start = dt.date.fromisoformat(raw)
            except ValueError:
                start = None
        if start is None:
            r.problem(p + "effective_from", "required; a date such as \"2026-07-01\"")
            continue
        kind = d.get("kind")
        if kind not in DUTY_KINDS:
            r.problem(p + "kind", f"must be one of {', '.join(DUTY_KINDS)}")
            continue
        amounts: dict[str, str | None] = {}
        for key in ("threshold", "amount"):
            val = d.get(key)
            if val is not None and (not isinstance(val, str) or not DECIMAL.match(val)):
                r.problem(p + key, "must be a decimal amount as text, e.g. \"3.00\"")
                val = None
            amounts[key] = val
        if kind == "de_minimis" and amounts["threshold"] is None:
            r.problem(p + "threshold", "required for kind de_minimis")
            continue
        if kind == "flat_per_subheading" and amounts["amount"] is None:
            r.problem(p + "amount", "required for kind flat_per_subheading")
            continue
        if any(x.effective_from == start for x in rules):
            r.problem(p + "effective_from", f"another duty rule already takes effect on {start.isoformat()}")
            continue
        rules.append(DutyRule(start, kind, amounts["threshold"], amounts["amount"]))
    return tuple(sorted(rules, key=lambda x: x.effective_from or dt.date.min))


def load_directory(path: str | Path) -> Directory:
    path = Path(path).resolve()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([FieldViolation(str(path), f"unreadable: {exc}")]) from None
    return parse_directory_bytes(data, path)


def parse_directory_bytes(data: bytes, path: Path) -> Directory:
    """Parse exactly these bytes (the ones whose signature is checked), not whatever the file holds now."""
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([FieldViolation(str(path), f"not valid TOML: {exc}")]) from None
    return dataclasses.replace(parse_directory(table, path), data=data, sha256=hashlib.sha256(data).hexdigest())


def read_signed_directory(cfg: NodeConfig) -> Directory:
    """The node's directory, refused unless the federation CA signed these exact bytes and every certificate
    it names is pinned — or the node explicitly runs unsigned (allow_unsigned_directory, development only)."""
    path = cfg.directory
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([FieldViolation("node.directory", f"unreadable: {exc}")]) from None
    sig_path = cfg.directory_signature or signature_path(path)
    try:
        signature = sig_path.read_text().strip()
    except OSError:
        signature = ""
    problems: list[FieldViolation] = []
    if not signature:
        if not cfg.allow_unsigned_directory:
            problems.append(FieldViolation("node.directory_signature", f"no signature at {sig_path}; sign the "
                                           "directory with `gateway directory sign` (or set "
                                           "node.allow_unsigned_directory = true for development only)"))
    else:
        try:
            verify_signature(data, signature, TrustStore.from_files(cfg.tls.ca))
        except DirectorySignatureError as exc:
            if not cfg.allow_unsigned_directory:
                problems.append(FieldViolation("node.directory_signature", f"{sig_path}: {exc.message}"))
            signature = ""
    try:
        directory = parse_directory_bytes(data, path)
    except ConfigError as exc:
        raise ConfigError(problems + [FieldViolation(f"{path.name}: {p.field}", p.description)
                                      for p in exc.problems]) from None
    if signature and directory.unpinned:
        problems += [FieldViolation(f"{path.name}: {key}", "missing: a signed directory must pin every certificate "
                                    "it names (`gateway directory pin`)") for key in directory.unpinned]
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(directory, signature=signature)


def fit(cfg: NodeConfig, directory: Directory) -> list[FieldViolation]:
    """How a node config and a directory disagree (the node and its participants must be where it says)."""
    problems: list[FieldViolation] = []
    if cfg.name not in directory.nodes:
        problems.append(FieldViolation("node.name", f"node {cfg.name!r} is not in the directory"))
    for i, p in enumerate(cfg.participants):
        entry = directory.participants.get(p.id)
        if entry is None:
            problems.append(FieldViolation(f"participants[{i}].id", f"{p.id} is not in the directory"))
        elif entry.node != cfg.name:
            problems.append(FieldViolation(f"participants[{i}].id",
                                           f"the directory says {p.id} is hosted by {entry.node}, not {cfg.name}"))
    return problems


def check(path: str | Path) -> tuple[NodeConfig, Directory]:
    """Validate a node config and the directory it names, including how they fit together."""
    cfg = load_node_config(path)
    directory = read_signed_directory(cfg)
    problems = fit(cfg, directory)
    if problems:
        raise ConfigError(problems)
    return cfg, directory
