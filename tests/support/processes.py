"""Real node processes for the fault suite (``gateway serve``), a TCP relay that can hold a node's answers,
and readers for what a node reports: its JSON log lines, its Prometheus metrics, its database."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from gateway.store import schema
from gateway.testing.federation import Federation
from gateway.testing.nodes import write_node_config
from tests.support import tally
from tests.support.two_nodes import FAST_RETRY

ROOT = Path(__file__).resolve().parents[2]


def node_config(fed: Federation, out: Path, node: str, port: int, directory: Path, *, metrics_port: int,
                hang_timeout_s: float = 1.0) -> Path:
    """A node config with fast retries, a metrics endpoint and a short ``[peering] hang_timeout_s``."""
    path = write_node_config(fed, out, node, port, directory, delivery=FAST_RETRY)
    text = path.read_text().replace(f'listen = "127.0.0.1:{port}"\n',
                                    f'listen = "127.0.0.1:{port}"\nmetrics_listen = "127.0.0.1:{metrics_port}"\n', 1)
    path.write_text(text + f"\n[peering]\nhang_timeout_s = {hang_timeout_s}\n")
    return path


class NodeProcess:
    """``gateway serve`` in its own process, its log (JSON lines on stderr) kept in a file."""

    def __init__(self, config: Path, log: Path, metrics_port: int):
        self.config, self.log, self.metrics_port = config, log, metrics_port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> NodeProcess:
        with self.log.open("a") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(self.config)],
                                         cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "gateway node listening on HOST:PORT (...)"; pytest-timeout guards it
        assert "listening on" in line, line
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)
        tally.fault({signal.SIGSTOP: "SIGSTOP", signal.SIGKILL: "kill -9"}.get(sig, sig.name))

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)  # in case the test left it stopped
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None

    def events(self, event: str) -> list[dict[str, Any]]:
        """The log entries with this event text, in order."""
        out = []
        for line in self.log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                out.append(entry)
        return out

    def metric(self, name: str, **labels: str) -> float | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return None


class HoldingRelay:
    """A TCP relay in front of a node, to lose the node's answers on the way back.

    ``refuse()`` closes every connection and refuses new ones (the node looks unreachable); ``hold(n)``
    passes connections again, but once a caller has sent more than ``n`` bytes on one, nothing more the
    node answers on it reaches the caller (it is read and dropped); ``hold(None)`` passes everything.
    A connection closed on one side is closed on the other.
    """

    def __init__(self, listen_port: int, target_port: int):
        self.target_port = target_port
        self._refusing = False
        self._hold_after: int | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", listen_port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def refuse(self) -> None:
        with self._lock:
            self._refusing = True
            for s in self._open:
                s.close()
            self._open.clear()

    def hold(self, after_bytes: int | None) -> None:
        with self._lock:
            self._refusing = False
            self._hold_after = after_bytes

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        from_caller = 0
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is client:
                        from_caller += len(data)
                    else:
                        with self._lock:
                            limit = self._hold_after
                        if limit is not None and from_caller > limit:
                            continue
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            with self._lock:
                self._open.difference_update((client, upstream))
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)
        self.refuse()


def receipt_kinds(url: str) -> dict[str, set[str]]:
    """message id -> kinds of receipts a node stored for it ("delivered", "acknowledged")."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            out: dict[str, set[str]] = {}
            for mid, kind in conn.execute(select(schema.receipts.c.message_id, schema.receipts.c.kind)):
                out.setdefault(mid, set()).add(kind)
            return out
    finally:
        engine.dispose()


def audited(url: str, event: str) -> list[str]:
    """Message ids of a node's audit entries of this event, in order."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            a = schema.audit_log
            return [r.message_id for r in conn.execute(select(a.c.message_id).where(a.c.event == event)
                                                       .order_by(a.c.seq))]
    finally:
        engine.dispose()
