"""Assembles a node: gRPC server with mTLS, auth interceptor, servicers, health, reflection, workers."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import signal
import socket
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateway.exchange import assistance
from gateway.evidence import archiver, audit, auditor, timestamping
from gateway.exchange import revenue
from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc, peering_pb2, peering_pb2_grpc
from gateway.transport.auth import AuthInterceptor
from gateway.exchange.delivery import ExpiryWorker, LocalDelivery
from gateway.federation.watch import DirectoryWatcher
from gateway.errors import GatewayError, ResourceExhausted
from gateway.telemetry.logs import configure_logging
from gateway.clock import now_us
from gateway.node import Node
from gateway.peering import Inbound, Relay
from gateway.transport.health import HealthServicer
from gateway.transport.peer_channel import GrpcPeerChannel
from gateway.transport.ratelimit import RateLimiter
from gateway.transport.admin_service import AdminServicer
from gateway.transport.exchange_service import ExchangeServicer
from gateway.transport.peering_service import PeeringServicer
from gateway.transport.status import abort
from gateway.exchange.submission import Submitter

log = structlog.get_logger("gateway.transport.server")

# Probes and load balancers must see a lost database within seconds; a ping is one SELECT 1.
HEALTH_INTERVAL_S = 0.5
# A ping still unanswered after this long means the database is stalled (a stopped host). A slower answer
# under load (a 100 MB request being refused, a GC pause) is not an outage: one slow ping must not take the
# node out of its load balancer, or any client sending big requests could do it at will.
DB_STALL_S = 3.0
# The whole node ("") and each service; all follow the database, the one thing every call needs.
HEALTH_SERVICES = ("", "swg.v1.Exchange", "swg.v1.Peering", "swg.v1.Admin")
# grpc_reflection ships only v1alpha; v1 has the same messages under another package name.
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


@dataclass(frozen=True)
class WorkerRole:
    """Which of a node's worker processes this server is (``[node] processes``; see docs/deploy.md).

    Every worker serves every call on the shared port. Singletons run only in worker 0: the expiry sweep
    and audit checkpoints (one is enough, and two would race to write the same checkpoint), the metrics
    endpoint (one HTTP port), the `node_started` audit entry, and the peering relay links (messages from
    one sender to a peer node must leave in order, so one process relays). Health checks and the
    directory watcher run in every worker, each for its own state; only worker 0 audits a directory change.
    """

    index: int = 0
    count: int = 1

    @property
    def singletons(self) -> bool:
        return self.index == 0

    @property
    def alone(self) -> bool:
        return self.count == 1


class GatewayServer:
    """One node's gRPC server and background workers, started and stopped together."""

    def __init__(self, node: Node, role: WorkerRole = WorkerRole()):
        self.node = node
        self.role = role
        self._ping: asyncio.Future[None] | None = None
        self._ping_started = 0.0
        self._space_probe: asyncio.Future[None] | None = None
        self._serving = True
        self.local = LocalDelivery(node)
        self.submitter = Submitter(node, self.local.notify)
        # Federation: outbound links to peer nodes, and the inbound side of Peering.Relay.
        self.relay = Relay(node, GrpcPeerChannel())
        self.inbound = Inbound(node, self.local.notify, self._follow_up)
        self.submitter.on_document = self._follow_up
        self.health = HealthServicer()
        self._health_server: grpc.aio.Server | None = None
        self.health_port = 0
        self._server: grpc.aio.Server | None = None
        self.interceptor: AuthInterceptor | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.port: int = 0
        self.metrics_port: int = 0
        self.checkpoints: auditor.CheckpointWorker | None = None
        self.directory_watcher = DirectoryWatcher(node, self.relay.refresh if role.singletons else _nothing,
                                                  record=role.singletons)

    def _credentials(self) -> grpc.ServerCredentials:
        tls = self.node.config.tls
        return grpc.ssl_server_credentials(
            [(tls.key.read_bytes(), tls.cert.read_bytes())],
            root_certificates=tls.ca.read_bytes(),
            require_client_auth=True,
        )

    async def _follow_up(self, header: Any, doc: Any) -> None:
        """Work that follows a newly stored document, submitted here or relayed in.

        The document is already accepted (durable): a failure here is logged, never turned into an error
        for the submitter, who would otherwise resubmit something that was stored.
        """
        try:
            await assistance.record(self.node, header, doc)
            hosted = header.sender in self.node.keys
            await revenue.follow_up(self.node.directory, header, doc, hosted, self.submitter.submit,
                                    revenue.item_lookup(self.node, header.sender))
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.error("follow-up failed", message_id=header.message_id, reason=f"{type(exc).__name__}: {exc}")

    def _on_refused(self, method: str, err: GatewayError, participant: str) -> None:
        # A participant held back by its rate limit is audited like a refused submit: counted, a row per
        # kind and minute (gateway.evidence.audit.RefusalTally); logged when its window opens.
        if isinstance(err, ResourceExhausted) and participant:
            if self.submitter.refusals.add(participant, err, detail={"method": method}):
                log.warning("call refused", method=method, participant=participant, code=err.grpc_code,
                            reason=err.message)
            return
        log.warning("call refused", method=method, code=err.grpc_code, reason=err.message)

    async def start(self) -> int:
        cfg = self.node.config
        # One send limit (gateway.config.Limits.grpc_message_bytes): a Delivery above it is never handed to gRPC
        # (gateway.exchange.delivery checks its size), so no recipient's stream fails on one.
        limit = cfg.limits.grpc_message_bytes
        # gRPC refuses a request above its own limit with its own words ("larger than max"); read up to four
        # times the document limit so that Submit answers with limits.max_message_bytes instead.
        receive_limit = max(limit, 4 * cfg.limits.max_message_bytes)
        limiter = RateLimiter(cfg.limits.rate_per_s, cfg.limits.burst)
        self.interceptor = AuthInterceptor(self.node.authenticator, abort, self._on_refused, limiter)
        server = grpc.aio.server(
            interceptors=[self.interceptor],
            options=[
                ("grpc.max_receive_message_length", receive_limit),
                ("grpc.max_send_message_length", limit),
                # Several worker processes share one port; a lone node refuses a port already in use.
                ("grpc.so_reuseport", 0 if self.role.alone else 1),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
                # Peer nodes ping every half [peering] hang_timeout_s (>= 250 ms), also on an idle relay
                # stream: accept that rather than answering GOAWAY "too_many_pings".
                ("grpc.http2.min_ping_interval_without_data_ms", 200),
            ],
        )
        exchange_pb2_grpc.add_ExchangeServicer_to_server(
            ExchangeServicer(self.node, self.submitter, self.local, limiter), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        peering_pb2_grpc.add_PeeringServicer_to_server(PeeringServicer(self.node, self.inbound), server)
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(self.node, self.relay.wake), server)
        names = [
            exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
            peering_pb2.DESCRIPTOR.services_by_name["Peering"].full_name,
            admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
            REFLECTION_V1,
        ]
        _enable_reflection(names, server)
        if self.role.alone:
            _check_port_free(cfg.listen)
        self.port = server.add_secure_port(cfg.listen, self._credentials())
        if self.port == 0:
            raise OSError(f"cannot listen on {cfg.listen}")
        await server.start()
        self._server = server
        if cfg.health_listen and self.role.singletons:
            self._health_server = await self._start_plain_health(cfg.health_listen)
        self.node.codec.start()
        if self.node.store.dialect == "sqlite" and self.role.alone:
            # SQLite means one node process: leases left by an earlier run of it (a crash) are stale now.
            # With several workers the supervisor did this once before starting them (gateway.runtime.supervisor).
            released = await self.node.store.release_all_leases(route="local", now_us=now_us())
            if released:
                log.warning("released leases of a previous run", deliveries=released)
        await self._check_health(wait_s=DB_STALL_S)  # the first status is published, one way or the other
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if self.role.singletons:  # see WorkerRole
            self._tasks.append(asyncio.create_task(ExpiryWorker(self.node).run(), name="expiry"))
            await self.relay.start()
            await asyncio.to_thread(auditor.record_start, self.node.store, cfg, self.node.directory.version)
            self._start_evidence()
        self._tasks.append(asyncio.create_task(self.directory_watcher.run(), name="directory-watch"))
        if cfg.tls.crl is not None:
            self._tasks.append(asyncio.create_task(self._crl_loop(), name="crl-refresh"))
        self._tasks.append(asyncio.create_task(self.submitter.refusals.run(), name="refusal-counts"))
        log.info("node serving", node=self.node.name, address=self.address, participants=sorted(self.node.keys))
        return self.port

    def _start_evidence(self) -> None:
        """Audit checkpoints and the Prometheus endpoint."""
        cfg = self.node.config
        signer = self.node.checkpoint_signer
        if signer is None:
            log.warning("no tokens.signing_key: audit checkpoints are not signed on this node")
        else:
            self.checkpoints = auditor.CheckpointWorker(self.node.store, signer, self.node.name,
                                                        cfg.audit.checkpoint_every, cfg.audit.checkpoint_interval_s)
            self._tasks.append(asyncio.create_task(self.checkpoints.run(), name="audit-checkpoints"))
        if cfg.retention is not None:
            if signer is None:
                log.warning("[retention] is set but there is no tokens.signing_key to sign archives: not archiving")
            else:
                self._tasks.append(asyncio.create_task(archiver.ArchiveWorker(self.node.store, cfg).run(),
                                                       name="retention"))
        self.node.metrics.watch_queues(self.node.store.queue_depths)
        tsa = self.node.tsa
        if tsa is not None:
            if signer is None:
                log.warning("audit.tsa_url is set but no checkpoints are signed here (no tokens.signing_key): "
                            "nothing to time-stamp")
            worker = timestamping.StampWorker(self.node.store, tsa, cfg.audit.tsa_retry_s)
            self._tasks.append(asyncio.create_task(worker.run(), name="audit-timestamps"))
        if tsa is not None:
            self.node.metrics.watch_stamps(lambda: timestamping.gauges(self.node.store, tsa))
        if cfg.metrics_listen:
            self.metrics_port = self.node.metrics.serve(cfg.metrics_listen)
            log.info("metrics serving", address=cfg.metrics_listen, port=self.metrics_port)

    @property
    def address(self) -> str:
        host = self.node.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def _check_health(self, wait_s: float = HEALTH_INTERVAL_S) -> None:
        # A ping that hangs (a stopped database host) counts as not serving, and no second one is started
        # beside it, so a stall cannot fill the thread pool that store reads share.
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(asyncio.to_thread(self.node.store.ping))
            self._ping_started = time.monotonic()
        reason = ""
        try:
            await asyncio.wait_for(asyncio.shield(self._ping), timeout=wait_s)
        except TimeoutError:
            waited = time.monotonic() - self._ping_started
            if waited < DB_STALL_S:
                return  # not yet an outage: the status in force stays until the ping answers or stalls
            reason = f"no answer from the database for {waited:.1f} s"
        except GatewayError as exc:
            reason = str(exc)
        if not reason:
            reason = await self._check_space()
        serving = not reason
        if serving != self._serving:  # transitions only: a database down for an hour is one line, not 7,200
            if serving:
                log.info("database usable again")
            else:
                log.error("database not usable", reason=reason)
            self._serving = serving
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in HEALTH_SERVICES:
            await self.health.set(service, status)

    async def _start_plain_health(self, address: str) -> grpc.aio.Server:
        """grpc.health.v1 alone, without TLS: probes get the same statuses as the mTLS port, and nothing else."""
        plain = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, plain)
        _check_port_free(address)
        self.health_port = plain.add_insecure_port(address)
        await plain.start()
        log.info("health serving without TLS", address=address, port=self.health_port)
        return plain

    async def _crl_loop(self) -> None:
        """Every ``[tls] crl_refresh_s``: a changed CRL file is read; if valid it is in force at once."""
        while True:
            await asyncio.sleep(self.node.config.tls.crl_refresh_s)
            try:
                await self.refresh_crl()
            except Exception:  # noqa: BLE001 - the node keeps serving under the CRL in force; say so loudly
                log.exception("CRL refresh failed; the CRL in force stays", crl=str(self.node.config.tls.crl))

    async def refresh_crl(self) -> bool:
        """Look at the CRL file now; True when a new CRL came into force.

        A new CRL empties the certificate and token caches and ends open streams (Receive, Relay, SubmitStream)
        and relay links whose certificate it revokes. A file that is refused leaves the CRL in force alone.
        """
        trust = self.node.trust
        outcome = await asyncio.to_thread(trust.refresh_crl)
        if outcome is None:
            return False
        path = str(self.node.config.tls.crl)
        # Who may connect changed (or an attempt to change it failed): that belongs in the evidence, not only the log.
        detail: dict[str, object] = {"file": path, "sha256": outcome.sha256, "revoked": outcome.revoked}
        if not outcome.loaded:
            log.error("CRL FILE REFUSED: the CRL in force stays; revocations in the new file are NOT applied",
                      crl=path, reason=outcome.reason, sha256=outcome.sha256, revoked_in_force=outcome.revoked)
            await self._audit_crl(audit.CRL_REFUSED, dict(detail, reason=outcome.reason[:500]))
            return False
        log.info("CRL reloaded", crl=path, sha256=outcome.sha256, revoked=outcome.revoked)
        await self._audit_crl(audit.CRL_CHANGED, detail)
        token_refused = self.node.authenticator.crl_reloaded()
        if token_refused:
            log.error("this node's token issuer certificate is no longer trusted: every bearer token is refused",
                      reason=token_refused)
        ended = self.interceptor.close_revoked() if self.interceptor is not None else []
        for call, err in ended:
            log.warning("stream of a revoked certificate closed", method=call.method,
                        principal=call.identity.principal, kind=call.identity.kind, reason=err.message)
        for peer, reason in self.relay.close_revoked():
            log.warning("relay link to a peer with a revoked certificate dropped", peer=peer, reason=reason)
        return True

    async def _audit_crl(self, event: str, detail: dict[str, object]) -> None:
        try:
            await self.node.store.append_audit([audit.AuditEvent(event, actor=self.node.name, subject="crl",
                                                                 detail=detail)], now_us())
        except Exception:  # noqa: BLE001 - the CRL is in force (or refused) whether or not the row is written
            log.exception("CRL change not recorded in the audit log", event=event)

    async def _check_space(self) -> str:
        """Reads work, but do writes? After a write refused for lack of space the node is NOT_SERVING until
        a probe write commits again (one at a time, at most one per health tick)."""
        store = self.node.store
        problem = store.space_problem()
        if problem is not None and (self._space_probe is None or self._space_probe.done()):
            self._space_probe = asyncio.ensure_future(_settled(store.probe_space()))
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._space_probe), timeout=HEALTH_INTERVAL_S)
            problem = store.space_problem()
        self.node.metrics.storage_full(problem is not None)
        return problem or ""

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            await self._check_health()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Graceful: stop taking calls, let in-flight calls finish within the grace period, then close."""
        if self._server is None:
            return
        await self.health.enter_graceful_shutdown()
        if self._health_server is not None:
            await self._health_server.stop(0)
        # Every phase is bounded: a stop that never ends (a task that will not finish) is worse for an
        # operator than one that names what it left behind.
        await _bounded("relay links", self.relay.stop(), grace_s + STOP_SLACK_S)
        await _bounded("gRPC server", self._server.stop(grace_s), grace_s + STOP_SLACK_S)
        # Streams are gone now; what they still held goes back to the queue before the store closes.
        await self.local.release_all()
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_SLACK_S)
            for t in pending:
                log.error("background task did not stop; the node stops without it", task=t.get_name(),
                          where=_where(t))
        self._server = None
        self.submitter.refusals.flush(everything=True)  # before the store closes: the counts are not lost
        self.node.metrics.stop()
        if self.checkpoints is not None:
            with suppress(Exception):
                await asyncio.to_thread(self.checkpoints.final)
        await asyncio.to_thread(self.node.close)
        log.info("node stopped", node=self.node.name)


STOP_SLACK_S = 5.0


async def _bounded(what: str, step: Any, timeout: float) -> None:
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.error("stopping took too long; going on without it", step=what, where=_where(task))
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        log.error("stopping failed; going on without it", step=what, error=repr(task.exception()))


def _where(task: asyncio.Future[Any]) -> str:
    """Where a task that did not end is waiting: the innermost frame of its coroutine, for the log."""
    frames = task.get_stack(limit=1) if isinstance(task, asyncio.Task) else []
    return f"{frames[-1].f_code.co_filename}:{frames[-1].f_lineno}" if frames else "?"


async def _nothing() -> None:
    return None


async def _settled(pending: Any) -> None:
    """Await a store write whose failure the caller reads elsewhere (the probe's is ``space_problem``)."""
    with suppress(GatewayError):
        await pending


def _stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """A worker's stdin is a pipe from its supervisor: end of file means the supervisor is gone."""
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()
    loop.add_reader(fd, readable)


async def serve(config_path: str | Path, *, ready: Any = None, worker: int | None = None,
                listen: str | None = None) -> None:
    """Run a node until SIGINT/SIGTERM; ``ready(address)`` is called once it serves.

    ``worker`` is set in a worker process started by ``gateway.runtime.supervisor`` (``[node] processes`` > 1):
    the supervisor already migrated the schema, ``listen`` is the resolved shared address.
    """
    started = time.monotonic()
    # Signals are ours from the first moment: a SIGTERM that arrives while the node is still starting (a
    # supervisor stopping right after "ready") must mean "stop gracefully", not the default instant death.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if worker is not None:
        _stop_when_stdin_closes(loop, stop)
    node = await asyncio.to_thread(Node.load, config_path, create_schema=False if worker is not None else None)
    role = WorkerRole()
    if worker is not None:
        role = WorkerRole(worker, node.config.processes)
        if listen:
            node.config = dataclasses.replace(node.config, listen=listen)
    configure_logging(node.config.log_level, worker, node.config.log_format)
    server = GatewayServer(node, role)
    try:
        await server.start()
    except BaseException:
        # E.g. the database refuses the first writes (disk full): close what was opened, then report it.
        with suppress(Exception):
            await server.stop(grace_s=0)
        with suppress(Exception):
            await asyncio.to_thread(node.close)
        raise
    log.info("startup", seconds=round(time.monotonic() - started, 3))
    if ready is not None:
        ready(server.address)
    await stop.wait()
    log.info("shutting down", node=node.name)
    await server.stop()


def _check_port_free(address: str) -> None:
    """A busy port as one clear line before gRPC tries it (gRPC prints a C-level log line and a RuntimeError)."""
    host, _, port = address.rpartition(":")
    if not port.isascii() or not port.isdigit() or int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]") or "0.0.0.0", int(port)))
        except OSError as err:
            reason = "already in use (is another node running?)" if err.errno == errno.EADDRINUSE else \
                (err.strerror or str(err))
            raise OSError(err.errno, f"cannot listen on {address}: {reason}; see [node] listen") from None


def _enable_reflection(names: list[str], server: grpc.aio.Server) -> None:
    """Reflection v1alpha, and v1 served by the same servicer (the wire messages are identical)."""
    from grpc_reflection.v1alpha import reflection_pb2 as messages

    servicer = reflection.aio.ReflectionServicer(names)
    reflection.enable_server_reflection(names, server)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(REFLECTION_V1, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo, request_deserializer=messages.ServerReflectionRequest.FromString,
            response_serializer=messages.ServerReflectionResponse.SerializeToString),
    }),))
