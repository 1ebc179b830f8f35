"""`gateway serve` with ``[node] processes = N`` > 1: one supervisor, N worker processes on one port.

The node's work is CPU-bound Python on one GIL; a second process is the only way to use a second core.
The supervisor does the start work that must happen once — schema migration and, for SQLite, giving back
the delivery leases a crashed earlier run left behind — while N workers (``python -m gateway serve
--worker K``: a fresh interpreter each, nothing forked after threads or gRPC started) do their imports,
which are most of a start; a worker loads the node and serves only once it reads "go" on its stdin,
sent when that work is done. Every worker runs a
full ``GatewayServer`` on the same address with ``SO_REUSEPORT``, and the kernel spreads connections
across them; singletons run in worker 0 only (see ``gateway.transport.server.WorkerRole``).

Lifecycle: the address is announced once every worker serves. SIGTERM/SIGINT to the supervisor sends
SIGTERM to every worker, each drains as a lone node does, and the supervisor exits 0 once all stopped
cleanly. A worker that dies after it served is restarted (logged); a worker that cannot start at all
(bad port, database down) stops the whole node with exit status 1, so that the service manager sees it
rather than a restart loop. Workers run in their own session, so a terminal's Ctrl-C reaches only the
supervisor; their stdin is a pipe from it, and its end of file (the supervisor was killed) stops them.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import structlog

from gateway.config import NodeConfig, load_node_config
from gateway.federation import check

log = structlog.get_logger("gateway.runtime.supervisor")

READY = b"worker ready "
RESTART_DELAY_S = 1.0
# A worker drains within its own grace period (10 s); past this it is killed.
STOP_TIMEOUT_S = 30.0


def prepare(cfg: NodeConfig) -> int:
    """The once-per-start work of a node; returns the number of stale local leases given back."""
    # Imported here: the supervisor starts its workers first, and they import all this themselves.
    from gateway.clock import now_us
    from gateway.store import Store

    store = Store(cfg.database_url, busy_timeout_ms=cfg.database_busy_timeout_ms, max_pages=cfg.database_max_pages)
    try:
        if cfg.database_auto_migrate:
            store.create_schema()
        if store.dialect != "sqlite":
            # PostgreSQL nodes may have replicas alive: their leases are not stale (they run out instead).
            return 0
        released: int = store.release_all_leases(route="local", now_us=now_us()).result()
        return released
    finally:
        store.close()


def reserve_port(listen: str) -> tuple[str, socket.socket | None]:
    """``host:0`` → a concrete free port every worker can bind with SO_REUSEPORT.

    The returned socket is bound (not listening) to hold the port for the supervisor's lifetime: it takes
    no connections, and workers that restart later still find the same port.
    """
    host, port = listen.rsplit(":", 1)
    if int(port) != 0:
        return listen, None
    bare = host.strip("[]")
    family = socket.getaddrinfo(bare, 0, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((bare, 0))
    return f"{host}:{sock.getsockname()[1]}", sock


class Supervisor:
    def __init__(self, config_path: Path, cfg: NodeConfig, listen: str):
        self.config_path = config_path
        self.cfg = cfg
        self.listen = listen
        self.stopping = asyncio.Event()
        self.failed: str = ""
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.ready: set[int] = set()
        self.all_ready = asyncio.Event()
        # Set once prepare() finished: workers start importing before, and serve only after, it.
        self.prepared = asyncio.Event()

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", "--config", str(self.config_path), "--worker", str(index),
            "--listen", self.listen, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True)

    async def run_worker(self, index: int) -> None:
        while not self.stopping.is_set():
            proc = await self._spawn(index)
            self.procs[index] = proc
            assert proc.stdout is not None and proc.stdin is not None
            await self.prepared.wait()
            with suppress(ConnectionError):  # a worker that died meanwhile is seen below
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            line = await proc.stdout.readline()
            if not line.startswith(READY):
                code = await proc.wait()
                if not self.stopping.is_set():
                    self.fail(f"worker {index} (pid {proc.pid}) did not start (exit status {code})")
                return
            log.info("worker serving", worker=index, pid=proc.pid)
            self.ready.add(index)
            if len(self.ready) == self.cfg.processes:
                self.all_ready.set()
            await proc.stdout.read()  # nothing more is written; this returns when the worker exits
            code = await proc.wait()
            if self.stopping.is_set():
                return
            log.error("worker died; restarting it", worker=index, pid=proc.pid, exit_status=code)
            await asyncio.sleep(RESTART_DELAY_S)

    def fail(self, reason: str) -> None:
        log.error("node stops: a worker could not start", reason=reason)
        self.failed = self.failed or reason
        self.stopping.set()

    async def stop_workers(self) -> bool:
        """SIGTERM to every worker, wait for each to drain; True when all exited with status 0."""
        for proc in self.procs.values():
            if proc.returncode is None:
                with suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        clean = True
        for index, proc in self.procs.items():
            try:
                code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except asyncio.TimeoutError:
                log.error("worker did not stop in time; killed", worker=index, pid=proc.pid)
                proc.kill()
                code = await proc.wait()
            # -SIGTERM: a worker still starting (no signal handler yet) ended by our SIGTERM, as asked.
            clean = clean and code in (0, -signal.SIGTERM)
        return clean


async def supervise(config_path: str | Path, *, ready: Callable[[str], None] | None = None) -> int:
    """Run a node as ``processes`` workers until SIGINT/SIGTERM; returns the exit status."""
    from gateway.telemetry.logs import configure_logging

    path = Path(config_path).resolve()
    cfg = load_node_config(path)
    configure_logging(cfg.log_level, fmt=cfg.log_format)
    listen, holder = reserve_port(cfg.listen)
    try:
        sup = Supervisor(path, cfg, listen)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sup.stopping.set)
        # Workers import (most of a start) while the schema is migrated; they serve once told "go".
        runners = [asyncio.create_task(sup.run_worker(i), name=f"worker-{i}") for i in range(cfg.processes)]
        try:
            # The whole check (the directory and its signature too) before any worker serves.
            await asyncio.to_thread(check, path)
            released = await asyncio.to_thread(prepare, cfg)
        except BaseException:
            sup.stopping.set()
            for t in runners:
                t.cancel()
            await sup.stop_workers()
            raise
        if released:
            log.warning("released leases of a previous run", deliveries=released)
        sup.prepared.set()
        ready_wait = asyncio.create_task(sup.all_ready.wait())
        await asyncio.wait([ready_wait, asyncio.create_task(sup.stopping.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        if sup.all_ready.is_set() and not sup.stopping.is_set():
            log.info("node serving", node=cfg.name, address=listen, processes=cfg.processes)
            if ready is not None:
                ready(listen)
        await sup.stopping.wait()
        log.info("shutting down", node=cfg.name, processes=cfg.processes)
        # No restarts from here on: the runners stop before the workers are told to.
        for t in runners:
            t.cancel()
        for t in runners:
            with suppress(asyncio.CancelledError):
                await t
        clean = await sup.stop_workers()
        ready_wait.cancel()
        log.info("node stopped", node=cfg.name)
        return 1 if sup.failed or not clean else 0
    finally:
        if holder is not None:
            holder.close()
