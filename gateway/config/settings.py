"""The node's own configuration (one TOML file per node) as typed settings, one parser per TOML section.

Every problem is reported with the exact key it concerns (``participants[1].signing_key: file not
found``), all at once, so that ``gateway config check`` tells an operator everything in one run.
Relative paths are resolved against the directory of the file that names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config.reader import ADDRESS, NODE_NAME, PARTICIPANT_ID, Reader, load_toml
from gateway.crypto.pkcs11 import Pkcs11Error, Pkcs11Options, is_uri, parse_uri
from gateway.crypto.rotation import KEK_MAX_AGE_S, KEK_MAX_MESSAGES
from gateway.errors import ConfigError, FieldViolation

MAX_PROCESSES = 16
DEFAULT_GROUP_COMMIT_WAIT_MS = 4.0
MAX_GROUP_COMMIT_WAIT_MS = 50.0
# A KEK wraps content keys with random 96-bit AES-GCM nonces: stay far below 2^32 wraps per key.
MAX_KEK_MESSAGES = 1_000_000
MAX_KEK_AGE_S = 86_400
# A revoked certificate is refused within this long of its CRL being published.
MAX_CRL_REFRESH_S = 3600
SCOPES = frozenset({"submit", "receive", "status", "assist", "admin"})
# gRPC's send and receive limits are max_message_bytes plus this headroom for the rest of a request or a
# Delivery (ids, recipients, framing); a document in any format is at most max_message_bytes.
MESSAGE_OVERHEAD_BYTES = 256 * 1024
DEFAULT_MAX_ITEMS_PER_DOCUMENT = 10_000


@dataclass(frozen=True)
class TlsSettings:
    ca: Path
    cert: Path
    key: Path
    crl: Path | None
    # How often a running node looks at the CRL file again (a changed file is read and, if valid, in force).
    crl_refresh_s: float = 60.0


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    # Certificate of the key that signs bearer tokens for this node; the key is needed only to issue.
    signing_certificate: Path
    # A PEM file, or a pkcs11: URI (str) naming a key in a token (see [pkcs11]).
    signing_key: Path | str | None
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
    # Recipients of one message, named by a submitter or in a relayed envelope's header.
    max_recipients: int = 100

    # Items (entries of a batch's list) one document may carry; bounds the work of encoding it for a recipient.
    max_items_per_document: int = DEFAULT_MAX_ITEMS_PER_DOCUMENT

    @property
    def grpc_message_bytes(self) -> int:
        """The gRPC receive and send limit: one request or one Delivery, the document and what goes with it."""
        return self.max_message_bytes + MESSAGE_OVERHEAD_BYTES
    # Documents of this many bytes or more are decoded/encoded in worker processes (gateway.codec).
    offload_bytes: int = 256 * 1024
    codec_processes: int = 1


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
class PeeringSettings:
    # A peer that answers nothing (no HTTP/2 keepalive ping answer, no relay answer, no TLS handshake)
    # for this long is reported down ("peer link down"), and its link reconnects with backoff.
    hang_timeout_s: float = 15.0


_TSA_URL = re.compile(r"https?://[^\s/?#]+(?:/[^\s#]*)?")
_OID = re.compile(r"[0-2](?:\.(?:0|[1-9][0-9]*))+")
MAX_TSA_TIMEOUT_S = 300.0
MIN_HANG_TIMEOUT_S = 0.5
MAX_HANG_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class AuditSettings:
    # A signed checkpoint after this many new entries, or after this many seconds with new entries.
    checkpoint_every: int = 1000
    checkpoint_interval_s: float = 60.0
    # RFC 3161 time-stamping of every checkpoint (gateway.evidence.timestamping); None = no TSA.
    tsa_url: str | None = None
    # The CA certificate(s) (PEM) a TSA certificate must chain to; required with tsa_url.
    tsa_ca: Path | None = None
    tsa_timeout_s: float = 10.0
    # The TSA policy OID to ask for (reqPolicy) and to require in every stamp; None = the TSA's default.
    tsa_policy: str | None = None
    # How long the worker waits before asking again after the TSA was unreachable or answered wrong.
    tsa_retry_s: float = 30.0


MAX_KEEP_DAYS = 36_500


@dataclass(frozen=True)
class RetentionSettings:
    # Final messages accepted more than this many days ago are archived and pruned (0: as soon as final).
    keep_days: float
    archive_dir: Path
    # How often the node's background task runs; `gateway archive run` runs it at once.
    interval_s: float = 3600.0
    # Messages per archive file.
    batch: int = 1000


@dataclass(frozen=True)
class EnvelopeSettings:
    # A sender's key-encryption key per recipient certificate is replaced after this many messages or
    # seconds, whichever first; 0 or 1 message (or 0 s) = a fresh HPKE key wrap per message.
    kek_max_messages: int = KEK_MAX_MESSAGES
    kek_max_age_s: float = KEK_MAX_AGE_S


@dataclass(frozen=True)
class HostedParticipant:
    id: str
    # A PEM file, or a pkcs11: URI (str) naming a key in a token (see [pkcs11]).
    signing_key: Path | str
    signing_cert: Path
    encryption_key: Path
    encryption_cert: Path
    # hybrid-pq (docs/federation.md, "Crypto profiles"): ML-DSA-65 and ML-KEM-768 private keys, PEM.
    pq_signing_key: Path | None = None
    pq_encryption_key: Path | None = None


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    name: str
    listen: str
    metrics_listen: str | None
    # Health only, without TLS, for load balancers and Kubernetes probes that present no client certificate.
    health_listen: str | None
    directory: Path
    database_url: str
    database_auto_migrate: bool
    tls: TlsSettings
    tokens: TokenSettings
    limits: Limits
    delivery: DeliverySettings
    participants: tuple[HostedParticipant, ...]
    log_level: str
    log_format: str
    # How long a write waits for a database lock before the submit is refused UNAVAILABLE.
    database_busy_timeout_ms: int = 30_000
    # SQLite only: cap on database pages (PRAGMA max_page_count); 0 = no cap. Reaching it refuses
    # submits RESOURCE_EXHAUSTED like a full disk, which is how the fault tests simulate one.
    database_max_pages: int = 0
    # How long the writer may hold a commit for submits still on their way (gateway.store.engine.Writer).
    database_group_commit_wait_ms: float = DEFAULT_GROUP_COMMIT_WAIT_MS
    audit: AuditSettings = field(default_factory=AuditSettings)
    envelope: EnvelopeSettings = field(default_factory=EnvelopeSettings)
    peering: PeeringSettings = field(default_factory=PeeringSettings)
    # None: no [retention] section, messages stay in the database for good.
    retention: RetentionSettings | None = None
    # The federation CA's detached JWS over the directory file (default: <directory>.jws beside it).
    directory_signature: Path | None = None
    # Development only: run with an unsigned directory (loudly logged). Never in production.
    allow_unsigned_directory: bool = False
    # How often the node looks for a newer signed directory.
    directory_poll_s: float = 5.0
    # Worker processes sharing the listen port (SO_REUSEPORT); 1 = the node is one process.
    processes: int = 1
    # The [pkcs11] table: module and PIN source for signing keys named by pkcs11: URIs.
    pkcs11: Pkcs11Options = field(default_factory=Pkcs11Options)



def signature_path(directory: Path) -> Path:
    """Where the directory's signature lives unless the node config says otherwise: ``<directory>.jws``."""
    return directory.with_name(directory.name + ".jws")


def _database_url(url: str, base: Path) -> str:
    # A relative SQLite path is relative to the config file, like every other path in it.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


@dataclass(frozen=True)
class _NodeTable:
    name: str
    listen: str
    metrics_listen: str | None
    health_listen: str | None
    directory: Path | None
    directory_signature: Path | None
    allow_unsigned_directory: bool
    directory_poll_s: float
    processes: int


@dataclass(frozen=True)
class _DatabaseTable:
    url: str
    auto_migrate: bool
    busy_timeout_ms: int
    max_pages: int
    group_commit_wait_ms: float


def _node(r: Reader, data: dict[str, Any]) -> _NodeTable:
    node = r.table(data, "node")
    r.unknown(node, {"name", "listen", "metrics_listen", "health_listen", "directory", "directory_signature",
                     "allow_unsigned_directory", "directory_poll_s", "processes"}, "node.")
    name = r.str_(node, "name", "node.", pattern=NODE_NAME, what="a node name (lowercase letters, digits, -)")
    listen = r.str_(node, "listen", "node.", pattern=ADDRESS, what="host:port")
    metrics = node.get("metrics_listen")
    if metrics is not None:
        metrics = r.str_(node, "metrics_listen", "node.", pattern=ADDRESS, what="host:port")
    health = node.get("health_listen")
    if health is not None:
        health = r.str_(node, "health_listen", "node.", pattern=ADDRESS, what="host:port")
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
    return _NodeTable(name, listen, metrics, health, directory, directory_signature, allow_unsigned, directory_poll_s,
                      processes)


def _tls(r: Reader, data: dict[str, Any]) -> TlsSettings:
    tls = r.table(data, "tls")
    r.unknown(tls, {"ca", "cert", "key", "crl", "crl_refresh_s"}, "tls.")
    crl_refresh_s = r.num(tls, "crl_refresh_s", "tls.", 60.0, minimum=0.05, integer=False)
    if not crl_refresh_s <= MAX_CRL_REFRESH_S:  # nan included
        r.problem("tls.crl_refresh_s", f"must be <= {MAX_CRL_REFRESH_S}")
        crl_refresh_s = 60.0
    return TlsSettings(
        ca=r.path(tls, "ca", "tls.") or Path(),
        cert=r.path(tls, "cert", "tls.") or Path(),
        key=r.path(tls, "key", "tls.") or Path(),
        crl=r.path(tls, "crl", "tls.", required=False),
        crl_refresh_s=crl_refresh_s,
    )


def _database(r: Reader, data: dict[str, Any]) -> _DatabaseTable:
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
    return _DatabaseTable(url, auto_migrate, busy_timeout_ms, max_pages, group_commit_wait_ms)


_PIN_KEYS = ("pin", "pin_value", "user_pin", "pin-value")


def _signing_key(r: Reader, data: dict[str, Any], key: str, prefix: str, required: bool = True) -> Path | str | None:
    """A signing key: a PEM file path, or a pkcs11: URI (checked here for form and for a PIN in it)."""
    value = data.get(key)
    if isinstance(value, str) and is_uri(value):
        try:
            parse_uri(value)
        except Pkcs11Error as exc:
            r.problem(prefix + key, str(exc))
        return value
    return r.path(data, key, prefix, required=required)


def _pkcs11(r: Reader, data: dict[str, Any]) -> Pkcs11Options:
    t = r.table(data, "pkcs11", required=False)
    for k in _PIN_KEYS:
        if k in t:
            r.problem(f"pkcs11.{k}", "a PIN must not be written into the node config; name a file with "
                      "pkcs11.pin_file (or pin-source=file: in the URI) or an environment variable with pkcs11.pin_env")
    r.unknown(t, {"module", "pin_file", "pin_env", *_PIN_KEYS}, "pkcs11.")
    module = t.get("module")
    if module is not None:
        module_path = r.path(t, "module", "pkcs11.")
        module = str(module_path) if module_path is not None else None
    pin_env = t.get("pin_env")
    if pin_env is not None and (not isinstance(pin_env, str) or not pin_env):
        r.problem("pkcs11.pin_env", "must be the name of an environment variable")
        pin_env = None
    return Pkcs11Options(module=module, pin_file=r.path(t, "pin_file", "pkcs11.", required=False), pin_env=pin_env)


def _tokens(r: Reader, data: dict[str, Any]) -> TokenSettings:
    tok = r.table(data, "tokens")
    r.unknown(tok, {"issuer", "audience", "signing_certificate", "signing_key", "max_lifetime_s", "leeway_s"},
              "tokens.")
    return TokenSettings(
        issuer=r.str_(tok, "issuer", "tokens."),
        audience=r.str_(tok, "audience", "tokens."),
        signing_certificate=r.path(tok, "signing_certificate", "tokens.") or Path(),
        signing_key=_signing_key(r, tok, "signing_key", "tokens.", required=False),
        max_lifetime_s=r.num(tok, "max_lifetime_s", "tokens.", 3600, minimum=1),
        leeway_s=r.num(tok, "leeway_s", "tokens.", 30),
    )


def _limits(r: Reader, data: dict[str, Any]) -> Limits:
    lim = r.table(data, "limits", required=False)
    r.unknown(lim, {"max_message_bytes", "default_ttl_s", "max_ttl_s", "visibility_timeout_s",
                    "max_in_flight_per_stream", "rate_per_s", "burst", "max_recipients",
                    "max_items_per_document", "offload_bytes", "codec_processes"}, "limits.")
    limits = Limits(
        max_message_bytes=r.num(lim, "max_message_bytes", "limits.", 4 * 1024 * 1024, minimum=1024),
        default_ttl_s=r.num(lim, "default_ttl_s", "limits.", 7 * 86400, minimum=1),
        max_ttl_s=r.num(lim, "max_ttl_s", "limits.", 30 * 86400, minimum=1),
        visibility_timeout_s=r.num(lim, "visibility_timeout_s", "limits.", 30.0, minimum=0.1, integer=False),
        max_in_flight_per_stream=r.num(lim, "max_in_flight_per_stream", "limits.", 256, minimum=1),
        rate_per_s=r.num(lim, "rate_per_s", "limits.", 0.0, integer=False),
        burst=r.num(lim, "burst", "limits.", 0),
        max_recipients=r.num(lim, "max_recipients", "limits.", 100, minimum=1),
        max_items_per_document=r.num(lim, "max_items_per_document", "limits.", DEFAULT_MAX_ITEMS_PER_DOCUMENT,
                                     minimum=1),
        offload_bytes=r.num(lim, "offload_bytes", "limits.", 256 * 1024, minimum=0),
        codec_processes=r.num(lim, "codec_processes", "limits.", 1, minimum=0),
    )
    if limits.default_ttl_s > limits.max_ttl_s:
        r.problem("limits.default_ttl_s", "must not exceed limits.max_ttl_s")
    return limits


def _delivery(r: Reader, data: dict[str, Any]) -> DeliverySettings:
    dl = r.table(data, "delivery", required=False)
    r.unknown(dl, {"poll_interval_s", "expiry_sweep_s", "retry_initial_s", "retry_max_s", "retry_multiplier",
                   "retry_jitter", "max_attempts"}, "delivery.")
    return DeliverySettings(
        poll_interval_s=r.num(dl, "poll_interval_s", "delivery.", 1.0, minimum=0.01, integer=False),
        expiry_sweep_s=r.num(dl, "expiry_sweep_s", "delivery.", 10.0, minimum=0.01, integer=False),
        retry_initial_s=r.num(dl, "retry_initial_s", "delivery.", 1.0, minimum=0.01, integer=False),
        retry_max_s=r.num(dl, "retry_max_s", "delivery.", 300.0, minimum=0.01, integer=False),
        retry_multiplier=r.num(dl, "retry_multiplier", "delivery.", 2.0, minimum=1.0, integer=False),
        retry_jitter=r.num(dl, "retry_jitter", "delivery.", 0.2, integer=False),
        max_attempts=r.num(dl, "max_attempts", "delivery.", 0),
    )


def _peering(r: Reader, data: dict[str, Any]) -> PeeringSettings:
    pr = r.table(data, "peering", required=False)
    r.unknown(pr, {"hang_timeout_s"}, "peering.")
    hang = r.num(pr, "hang_timeout_s", "peering.", 15.0, minimum=MIN_HANG_TIMEOUT_S, integer=False)
    if not hang <= MAX_HANG_TIMEOUT_S:  # also refuses nan
        r.problem("peering.hang_timeout_s", f"must be a number of seconds <= {MAX_HANG_TIMEOUT_S:g}")
        hang = 15.0
    return PeeringSettings(hang_timeout_s=hang)


def _audit(r: Reader, data: dict[str, Any]) -> AuditSettings:
    aud = r.table(data, "audit", required=False)
    r.unknown(aud, {"checkpoint_every", "checkpoint_interval_s", "tsa_url", "tsa_ca", "tsa_timeout_s", "tsa_policy",
                    "tsa_retry_s"}, "audit.")
    tsa_url = aud.get("tsa_url")
    tsa_ca = None
    if tsa_url is not None:
        tsa_url = r.str_(aud, "tsa_url", "audit.", pattern=_TSA_URL, what="an http:// or https:// URL") or None
        tsa_ca = r.path(aud, "tsa_ca", "audit.", required=False)
        if "tsa_ca" not in aud:
            r.problem("audit.tsa_ca", "required with audit.tsa_url: the CA certificate (PEM) that the TSA's "
                                      "certificate must chain to")
    elif "tsa_ca" in aud:
        r.problem("audit.tsa_ca", "only meaningful with audit.tsa_url")
    tsa_policy = aud.get("tsa_policy")
    if tsa_policy is not None:
        tsa_policy = r.str_(aud, "tsa_policy", "audit.", pattern=_OID, what="a dotted object identifier (1.2.3.4)")
    timeout = r.num(aud, "tsa_timeout_s", "audit.", 10.0, minimum=0.1, integer=False)
    if not timeout <= MAX_TSA_TIMEOUT_S:
        r.problem("audit.tsa_timeout_s", f"must be <= {MAX_TSA_TIMEOUT_S:g}")
        timeout = 10.0
    return AuditSettings(
        checkpoint_every=r.num(aud, "checkpoint_every", "audit.", 1000, minimum=1),
        checkpoint_interval_s=r.num(aud, "checkpoint_interval_s", "audit.", 60.0, minimum=0.05, integer=False),
        tsa_url=tsa_url, tsa_ca=tsa_ca, tsa_timeout_s=timeout, tsa_policy=tsa_policy or None,
        tsa_retry_s=r.num(aud, "tsa_retry_s", "audit.", 30.0, minimum=0.05, integer=False),
    )


def _retention(r: Reader, data: dict[str, Any]) -> RetentionSettings | None:
    if "retention" not in data:
        return None
    ret = r.table(data, "retention")
    r.unknown(ret, {"keep_days", "archive_dir", "interval_s", "batch"}, "retention.")
    if "keep_days" not in ret:
        r.problem("retention.keep_days", "missing (days a final message stays in the database)")
    archive_dir = r.path(ret, "archive_dir", "retention.", must_exist=False)
    if archive_dir is not None and archive_dir.exists() and not archive_dir.is_dir():
        r.problem("retention.archive_dir", f"not a folder: {archive_dir}")
    keep_days = r.num(ret, "keep_days", "retention.", 0, integer=False)
    if not keep_days <= MAX_KEEP_DAYS:  # also refuses nan
        r.problem("retention.keep_days", f"must be a number of days <= {MAX_KEEP_DAYS}")
        keep_days = 0
    return RetentionSettings(
        keep_days=keep_days,
        archive_dir=archive_dir or Path(),
        interval_s=r.num(ret, "interval_s", "retention.", 3600.0, minimum=1, integer=False),
        batch=r.num(ret, "batch", "retention.", 1000, minimum=1),
    )


def _envelope(r: Reader, data: dict[str, Any]) -> EnvelopeSettings:
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
    return EnvelopeSettings(kek_max_messages=kek_max_messages, kek_max_age_s=kek_max_age_s)


def _logging(r: Reader, data: dict[str, Any]) -> tuple[str, str]:
    log = r.table(data, "logging", required=False)
    r.unknown(log, {"level", "format"}, "logging.")
    level = str(log.get("level", "info")).lower()
    if level not in {"debug", "info", "warning", "error"}:
        r.problem("logging.level", "must be debug, info, warning or error")
    fmt = log.get("format", "json")
    if fmt not in ("console", "json"):
        r.problem("logging.format", 'must be "console" (for a terminal) or "json" (for services)')
    return level, str(fmt)


def _participants(r: Reader, data: dict[str, Any]) -> tuple[HostedParticipant, ...]:
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
        r.unknown(p, {"id", "signing_key", "signing_cert", "encryption_key", "encryption_cert", "pq_signing_key",
                      "pq_encryption_key"}, prefix)
        pid = r.str_(p, "id", prefix, pattern=PARTICIPANT_ID, what="a participant id CC/ROLE/CODE")
        if pid in seen:
            r.problem(prefix + "id", f"{pid} is listed twice")
        seen.add(pid)
        participants.append(HostedParticipant(
            id=pid,
            signing_key=_signing_key(r, p, "signing_key", prefix) or Path(),
            signing_cert=r.path(p, "signing_cert", prefix) or Path(),
            encryption_key=r.path(p, "encryption_key", prefix) or Path(),
            encryption_cert=r.path(p, "encryption_cert", prefix) or Path(),
            pq_signing_key=r.path(p, "pq_signing_key", prefix, required=False),
            pq_encryption_key=r.path(p, "pq_encryption_key", prefix, required=False),
        ))
    return tuple(participants)


def load_node_config(path: str | Path) -> NodeConfig:
    path = Path(path).resolve()
    data = load_toml(path)
    problems: list[FieldViolation] = []
    r = Reader(path.parent, problems)
    r.unknown(data, {"node", "tls", "database", "tokens", "limits", "delivery", "participants", "logging", "audit",
                     "envelope", "peering", "pkcs11", "retention"},
              "")
    # One section after the other, in this order, so problems are listed in the order of the file's sections.
    node = _node(r, data)
    tls = _tls(r, data)
    db = _database(r, data)
    tokens = _tokens(r, data)
    limits = _limits(r, data)
    delivery = _delivery(r, data)
    peering = _peering(r, data)
    audit = _audit(r, data)
    envelope = _envelope(r, data)
    retention = _retention(r, data)
    level, log_format = _logging(r, data)
    participants = _participants(r, data)
    pkcs11 = _pkcs11(r, data)
    if problems:
        raise ConfigError(problems)
    assert node.directory is not None
    return NodeConfig(
        path=path, name=node.name, listen=node.listen, metrics_listen=node.metrics_listen,
        health_listen=node.health_listen, directory=node.directory,
        database_url=_database_url(db.url, path.parent), database_auto_migrate=db.auto_migrate, tls=tls,
        tokens=tokens, limits=limits, delivery=delivery, participants=participants, log_level=level,
        log_format=log_format,
        database_busy_timeout_ms=db.busy_timeout_ms, database_max_pages=db.max_pages,
        database_group_commit_wait_ms=db.group_commit_wait_ms,
        audit=audit, envelope=envelope, peering=peering, retention=retention,
        directory_signature=node.directory_signature or signature_path(node.directory),
        allow_unsigned_directory=node.allow_unsigned_directory, directory_poll_s=node.directory_poll_s,
        processes=node.processes, pkcs11=pkcs11,
    )
