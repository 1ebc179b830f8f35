"""Assembles a node: gRPC server with mTLS, auth interceptor, servicers, health, reflection, workers."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
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
from gateway.evidence import auditor
from gateway.exchange import revenue
from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc, peering_pb2, peering_pb2_grpc
from gateway.transport.auth import AuthInterceptor
from gateway.exchange.delivery import ExpiryWorker, LocalDelivery
from gateway.federation.watch import DirectoryWatcher
from gateway.errors import GatewayError
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

# Probes and load balancers must see a lost database within a second; a ping is one SELECT 1.
HEALTH_INTERVAL_S = 0.5
# Headroom above the largest accepted document for the rest of a request (ids, recipients, framing).
ENVELOPE_OVERHEAD = 256 * 1024


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
        self._serving = True
        self.local = LocalDelivery(node)
        self.submitter = Submitter(node, self.local.notify)
        # Federation: outbound links to peer nodes, and the inbound side of Peering.Relay.
        self.relay = Relay(node, GrpcPeerChannel())
        self.inbound = Inbound(node, self.local.notify, self._follow_up)
        self.submitter.on_document = self._follow_up
        self.health = HealthServicer()
        self._server: grpc.aio.Server | None = None
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

    def _on_refused(self, method: str, err: GatewayError) -> None:
        log.warning("call refused", method=method, code=err.grpc_code, reason=err.message)

    async def start(self) -> int:
        cfg = self.node.config
        limit = cfg.limits.max_message_bytes + ENVELOPE_OVERHEAD
        server = grpc.aio.server(
            interceptors=[AuthInterceptor(self.node.authenticator, abort, self._on_refused,
                                          RateLimiter(cfg.limits.rate_per_s, cfg.limits.burst))],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # Several worker processes share one port; a lone node refuses a port already in use.
                ("grpc.so_reuseport", 0 if self.role.alone else 1),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        exchange_pb2_grpc.add_ExchangeServicer_to_server(
            ExchangeServicer(self.node, self.submitter, self.local), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        peering_pb2_grpc.add_PeeringServicer_to_server(PeeringServicer(self.node, self.inbound), server)
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(self.node, self.relay.wake), server)
        names = [
            exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
            peering_pb2.DESCRIPTOR.services_by_name["Peering"].full_name,
            admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        reflection.enable_server_reflection(names, server)
        self.port = server.add_secure_port(cfg.listen, self._credentials())
        if self.port == 0:
            raise OSError(f"cannot listen on {cfg.listen}")
        await server.start()
        self._server = server
        self.node.codec.start()
        if self.node.store.dialect == "sqlite" and self.role.alone:
            # SQLite means one node process: leases left by an earlier run of it (a crash) are stale now.
            # With several workers the supervisor did this once before starting them (gateway.runtime.supervisor).
            released = await self.node.store.release_all_leases(route="local", now_us=now_us())
            if released:
                log.warning("released leases of a previous run", deliveries=released)
        await self._check_health()
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if self.role.singletons:  # see WorkerRole
            self._tasks.append(asyncio.create_task(ExpiryWorker(self.node).run(), name="expiry"))
            await self.relay.start()
            await asyncio.to_thread(auditor.record_start, self.node.store, cfg, self.node.directory.version)
            self._start_evidence()
        self._tasks.append(asyncio.create_task(self.directory_watcher.run(), name="directory-watch"))
        log.info("node serving", node=self.node.name, address=self.address, participants=sorted(self.node.keys))
        return self.port

    def _start_evidence(self) -> None:
        """Audit checkpoints and the Prometheus endpoint."""
        cfg = self.node.config
        signer = auditor.checkpoint_signer(cfg)
        if signer is None:
            log.warning("no tokens.signing_key: audit checkpoints are not signed on this node")
        else:
            self.checkpoints = auditor.CheckpointWorker(self.node.store, signer, self.node.name,
                                                        cfg.audit.checkpoint_every, cfg.audit.checkpoint_interval_s)
            self._tasks.append(asyncio.create_task(self.checkpoints.run(), name="audit-checkpoints"))
        self.node.metrics.watch_queues(self.node.store.queue_depths)
        if cfg.metrics_listen:
            self.metrics_port = self.node.metrics.serve(cfg.metrics_listen)
            log.info("metrics serving", address=cfg.metrics_listen, port=self.metrics_port)

    @property
    def address(self) -> str:
        host = self.node.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def _check_health(self) -> None:
        # A ping that hangs (a stopped database host) counts as not serving, and no second one is started
        # beside it, so a stall cannot fill the thread pool that store reads share.
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(asyncio.to_thread(self.node.store.ping))
        reason = ""
        try:
            await asyncio.wait_for(asyncio.shield(self._ping), timeout=HEALTH_INTERVAL_S)
        except TimeoutError:
            reason = f"no answer from the database within {HEALTH_INTERVAL_S} s"
        except GatewayError as exc:
            reason = str(exc)
        serving = not reason
        if serving != self._serving:  # transitions only: a database down for an hour is one line, not 7,200
            if serving:
                log.info("database usable again")
            else:
                log.error("database not usable", reason=reason)
            self._serving = serving
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", "swg.v1.Exchange"):
            await self.health.set(service, status)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            await self._check_health()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Graceful: stop taking calls, let in-flight calls finish within the grace period, then close."""
        if self._server is None:
            return
        await self.health.enter_graceful_shutdown()
        await self.relay.stop()
        await self._server.stop(grace_s)
        # Streams are gone now; what they still held goes back to the queue before the store closes.
        await self.local.release_all()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await t
        self._server = None
        self.node.metrics.stop()
        if self.checkpoints is not None:
            with suppress(Exception):
                await asyncio.to_thread(self.checkpoints.final)
        await asyncio.to_thread(self.node.close)
        log.info("node stopped", node=self.node.name)


async def _nothing() -> None:
    return None


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
    configure_logging(node.config.log_level, worker)
    server = GatewayServer(node, role)
    await server.start()
    log.info("startup", seconds=round(time.monotonic() - started, 3))
    if ready is not None:
        ready(server.address)
    await stop.wait()
    log.info("shutting down", node=node.name)
    await server.stop()
