"""RFC 3161 time-stamps of signed checkpoints, which never hold up exchange.

A stored checkpoint is queued (``checkpoint_stored``, in the database, so a restart loses nothing);
the ``StampWorker`` asks the TSA for a stamp of the exact bytes the checkpoint's signature covers,
oldest first, verifies the answer (gateway.crypto.timestamps) and stores the token. A TSA that is down,
slow or answering wrong only leaves checkpoints waiting: submits, deliveries and health do not look at
this queue. The staleness is visible instead: ``status`` (``gateway audit status``, the Admin RPC
``GetAuditStatus``) and the gauges ``swg_audit_stamps_waiting`` / ``swg_audit_stamp_age_seconds``.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import structlog

from gateway.config.settings import AuditSettings
from gateway.crypto import timestamps
from gateway.errors import ConfigError, FieldViolation
from gateway.store import Store

log = structlog.get_logger("gateway.evidence.timestamping")

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
# A TimeStampResp with a certificate chain is a few KiB; anything much larger is not one.
MAX_REPLY_BYTES = 256 * 1024
# Checkpoints stamped per database read; the rest follow in the same round.
BATCH = 50


def _now_us() -> int:
    return time.time_ns() // 1000


class TsaUnavailable(Exception):
    """The TSA could not be asked (connection refused, timeout, HTTP error): try again later."""


class TsaClient:
    """Asks one TSA over HTTP (RFC 3161 section 3.4) and verifies what it answers."""

    def __init__(self, url: str, cas: timestamps.TrustAnchors, *, timeout_s: float = 10.0,
                 policy: str | None = None):
        self.url, self.cas, self.timeout_s, self.policy = url, tuple(cas), timeout_s, policy

    @classmethod
    def from_settings(cls, audit: AuditSettings) -> TsaClient | None:
        """None without ``[audit] tsa_url``; a CA file that holds no certificate fails the start."""
        if audit.tsa_url is None:
            return None
        assert audit.tsa_ca is not None  # the config parser requires it with tsa_url
        try:
            cas = timestamps.load_ca_file(audit.tsa_ca)
        except ValueError as exc:
            raise ConfigError([FieldViolation("audit.tsa_ca", f"{audit.tsa_ca}: {exc}")]) from None
        if not cas:
            raise ConfigError([FieldViolation("audit.tsa_ca", f"{audit.tsa_ca}: holds no certificate")])
        return cls(audit.tsa_url, cas, timeout_s=audit.tsa_timeout_s, policy=audit.tsa_policy)

    def _post(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": QUERY_TYPE})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - URL from config
                kind = resp.headers.get_content_type()
                data: bytes = resp.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise TsaUnavailable(f"TSA answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TsaUnavailable(f"TSA not reachable at {self.url}: {reason}") from None
        if kind != REPLY_TYPE:
            raise timestamps.TimestampInvalid(f"TSA answered Content-Type {kind}, not {REPLY_TYPE}")
        if len(data) > MAX_REPLY_BYTES:
            raise timestamps.TimestampInvalid(f"TSA answer larger than {MAX_REPLY_BYTES} bytes")
        return data

    def stamp(self, data: bytes) -> timestamps.Stamp:
        req = timestamps.request(data, policy=self.policy)
        return timestamps.verify_response(self._post(req.der), req, self.cas)


def checkpoint_stored(store: Store, checkpoint: int, signed: bytes) -> None:
    """The checkpoint worker's one call: checkpoint ``checkpoint`` was stored and ``signed`` is exactly
    what its signature covers. Queued whether or not a TSA is configured, so that a TSA configured later
    stamps the checkpoints signed before it (a later stamp still bounds when they existed)."""
    store.queue_stamp(checkpoint, signed, _now_us()).result()


@dataclass(frozen=True)
class StampStatus:
    enabled: bool
    tsa_url: str
    waiting: int
    # Seconds since the newest stamp's genTime; None before the first stamp.
    newest_age_s: float | None
    newest_checkpoint: int
    newest_gen_time_us: int
    # Seconds the oldest waiting checkpoint has waited (0 when none waits).
    oldest_waiting_s: float
    last_error: str


def status(store: Store, client: TsaClient | None, now_us: int | None = None) -> StampStatus:
    s = store.stamp_status()
    now = now_us if now_us is not None else _now_us()
    return StampStatus(
        enabled=client is not None, tsa_url=client.url if client is not None else "", waiting=s.waiting,
        newest_age_s=(now - s.newest_gen_time_us) / 1e6 if s.newest_gen_time_us else None,
        newest_checkpoint=s.newest_checkpoint, newest_gen_time_us=s.newest_gen_time_us,
        oldest_waiting_s=(now - s.oldest_waiting_queued_us) / 1e6 if s.waiting else 0.0,
        last_error=s.last_error)


def gauges(store: Store, client: TsaClient) -> tuple[int, float]:
    """(checkpoints waiting, seconds since the newest stamp's genTime) for the Prometheus gauges. Before
    the first stamp the age is how long the oldest checkpoint has waited (0 with nothing to stamp), so
    that an alert on the age fires for a TSA that never answered."""
    s = status(store, client)
    return s.waiting, s.newest_age_s if s.newest_age_s is not None else s.oldest_waiting_s


class StampWorker:
    """Stamps waiting checkpoints oldest first; after a failure waits ``retry_s`` and starts again with
    the same (oldest) checkpoint, so that stamps come in checkpoint order."""

    def __init__(self, store: Store, client: TsaClient, retry_s: float, poll_s: float = 1.0):
        self.store, self.client, self.retry_s = store, client, retry_s
        self.poll_s = min(poll_s, retry_s)
        self._failing = False

    def catch_up(self) -> bool:
        """Stamp what waits; True when nothing waits any more, False when the TSA failed."""
        while True:
            batch = self.store.waiting_stamps(BATCH)
            if not batch:
                return True
            for w in batch:
                try:
                    stamp = self.client.stamp(w.signed)
                except (TsaUnavailable, timestamps.TimestampInvalid) as exc:
                    kind = "unavailable" if isinstance(exc, TsaUnavailable) else "refused"
                    reason = f"{kind}: {exc}"
                    self.store.record_stamp_failure(w.checkpoint, reason).result()
                    if not self._failing:  # the first failure of an outage, not one line per retry
                        log.error("checkpoint time-stamp failed; checkpoints wait for the TSA, exchange continues",
                                  checkpoint=w.checkpoint, tsa=self.client.url, reason=reason)
                    self._failing = True
                    return False
                self.store.record_stamp(w.checkpoint, stamp.token, stamp.gen_time_us, _now_us()).result()
                if self._failing:
                    log.info("TSA answering again; stamping waiting checkpoints", checkpoint=w.checkpoint)
                    self._failing = False
                log.debug("checkpoint time-stamped", checkpoint=w.checkpoint, serial=stamp.serial)

    async def run(self) -> None:
        while True:
            try:
                done = await asyncio.to_thread(self.catch_up)
            except Exception as exc:  # noqa: BLE001 - e.g. the database briefly unavailable: next round
                log.error("checkpoint time-stamping round failed", reason=f"{type(exc).__name__}: {exc}")
                done = False
            await asyncio.sleep(self.poll_s if done else self.retry_s)
