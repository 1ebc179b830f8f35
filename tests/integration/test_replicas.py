"""Scale-out: three replicas of one node on one PostgreSQL, one killed mid-run, nothing lost or doubled.

Replicas are real ``gateway serve`` processes with their own ports, sharing the node's name, keys and
database. The post submits round-robin across them (retrying on the next replica when one is gone, with
the same message id); customs keeps a Receive stream open on every replica and acknowledges what it
gets, except from the replica that will be SIGKILLed mid-run: the leases it held run out and the
survivors deliver those messages again.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from gateway.evidence import audit
from gateway.api.swg.v1 import exchange_pb2
from gateway.store import Store
from gateway.store.states import ACKNOWLEDGED
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import Client, connect, free_port, write_directory, write_node_config
from tests.support.pg import PostgresServer
from gateway.testing.federation import Federation

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
REPLICAS = 3
MESSAGES = 3000
KILL_AFTER = 1000
VICTIM = 1
SUBMITTERS = 6
VISIBILITY_S = 4.0
DEADLINE_S = 150.0


class Replica:
    def __init__(self, config: Path, log: Path):
        self.config = config
        self.log = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.address = ""

    def wait_ready(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the serve command prints one line once the node serves
        if "listening on" not in line:
            raise AssertionError(f"replica {self.config} did not start: {line!r} (see {self.log.name})")
        self.address = line.split("listening on ")[1].split()[0]
        assert time.monotonic() < deadline

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@dataclass
class Observed:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: set[str] = field(default_factory=set)
    # every delivery the application got: (message id, replica index)
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    first_from: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _alive(replicas: list[Replica], dead: set[int]) -> list[int]:
    return [i for i in range(len(replicas)) if i not in dead]


@pytest.mark.postgres
@pytest.mark.slow
def test_three_replicas_one_killed_every_message_delivered_once_and_audit_chain_intact(
        database_backend: str, postgres_server: PostgresServer, federation: Federation, tmp_path: Path) -> None:
    db_url = postgres_server.create_database("replicas")
    ports = [free_port() for _ in range(REPLICAS)]
    directory = write_directory(federation, tmp_path, {"de-node": ports[0], "fr-node": free_port()})
    replicas = []
    for i, port in enumerate(ports):
        cfg = write_node_config(federation, tmp_path, "de-node", port, directory, database_url=db_url,
                                visibility_timeout_s=VISIBILITY_S, log_level="warning",
                                file_stem=f"de-node-replica{i}")
        replicas.append(Replica(cfg, tmp_path / f"replica{i}.log"))
    dead: set[int] = set()
    seen = Observed()
    stop = threading.Event()
    clients: list[Client] = []
    threads: list[threading.Thread] = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        for r in replicas:  # all three started at once: their auto_migrate takes turns on one database
            r.wait_ready(deadline)
        posts = [connect(federation, "de-node", r.address, POST) for r in replicas]
        customs = [connect(federation, "de-node", r.address, CUSTOMS) for r in replicas]
        clients += posts + customs

        def submit(indices: range) -> None:
            for n in indices:
                mid = f"scale-{n:05d}"
                req = exchange_pb2.SubmitRequest(format="swg.aed.v1", message_id=mid,
                                                 content=aed_batch(1, start=10_000_000 + n).SerializeToString())
                target = n % REPLICAS
                while not stop.is_set():
                    if target in dead:
                        target = (target + 1) % REPLICAS
                        continue
                    c = posts[target]
                    try:
                        c.exchange.Submit(req, metadata=c.metadata, timeout=30)
                    except grpc.RpcError as err:
                        if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                                          grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED):
                            target = (target + 1) % REPLICAS  # same message id on the next replica
                            continue
                        with seen.lock:
                            seen.errors.append(f"submit {mid}: {err.code().name}: {err.details()}")
                        return
                    with seen.lock:
                        seen.accepted.add(mid)
                    break

        acks: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()

        def receive(i: int) -> None:
            c = customs[i]
            stream = c.exchange.Receive(exchange_pb2.ReceiveRequest(max_in_flight=64), metadata=c.metadata)
            try:
                for d in stream:
                    with seen.lock:
                        seen.deliveries.append((d.message_id, i))
                        seen.first_from.setdefault(d.message_id, i)
                    if i != VICTIM:
                        acks.put((d.message_id, i))
                    # What the doomed replica hands out is never acknowledged: those leases must run out
                    # and the survivors must take the deliveries over.
                    if stop.is_set():
                        break
            except grpc.RpcError as err:
                if i not in dead and not stop.is_set():
                    with seen.lock:
                        seen.errors.append(f"receive on replica {i}: {err.code().name}: {err.details()}")
            finally:
                stream.cancel()

        def acknowledge() -> None:
            while not stop.is_set():
                try:
                    first = acks.get(timeout=0.2)
                except queue.Empty:
                    continue
                batch = [first]
                while len(batch) < 64:
                    try:
                        batch.append(acks.get_nowait())
                    except queue.Empty:
                        break
                by_replica: dict[int, list[str]] = defaultdict(list)
                for mid, i in batch:
                    by_replica[i].append(mid)
                for i, ids in by_replica.items():
                    # Any replica can take an acknowledgement: they share the database.
                    for target in [i] + [j for j in _alive(replicas, dead) if j != i]:
                        if target in dead:
                            continue
                        c = customs[target]
                        try:
                            c.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=ids),
                                                   metadata=c.metadata, timeout=30)
                            break
                        except grpc.RpcError:
                            continue

        per = -(-MESSAGES // SUBMITTERS)
        threads += [threading.Thread(target=submit, args=(range(k * per, min(MESSAGES, (k + 1) * per)),), daemon=True)
                    for k in range(SUBMITTERS)]
        threads += [threading.Thread(target=receive, args=(i,), daemon=True) for i in range(REPLICAS)]
        threads += [threading.Thread(target=acknowledge, daemon=True) for _ in range(2)]
        started = time.monotonic()
        for t in threads:
            t.start()

        while len(seen.accepted) < KILL_AFTER and time.monotonic() < deadline and not seen.errors:
            time.sleep(0.05)
        dead.add(VICTIM)
        replicas[VICTIM].kill()
        killed_at = len(seen.accepted)

        expected = {f"scale-{n:05d}" for n in range(MESSAGES)}
        all_accepted_s = 0.0
        while time.monotonic() < deadline and not seen.errors:
            with seen.lock:
                if not all_accepted_s and len(seen.accepted) == MESSAGES:
                    all_accepted_s = time.monotonic() - started
                if set(seen.first_from) >= expected and len(seen.accepted) == MESSAGES:
                    break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert not seen.errors, seen.errors[:5]
        assert seen.accepted == expected
        assert set(seen.first_from) == expected, f"{len(expected - set(seen.first_from))} never delivered"

        # Every delivery ends acknowledged in the shared database.
        store = Store(db_url)
        try:
            def unacknowledged() -> int:
                return len([d for d in store.list_deliveries([], CUSTOMS, MESSAGES + 10) if d.state != ACKNOWLEDGED])

            while unacknowledged() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert unacknowledged() == 0
            taken_over = len([d for d in store.list_deliveries([], CUSTOMS, MESSAGES + 10) if d.attempts > 1])
            assert taken_over > 0
            assert store.count("deliveries") == MESSAGES
            report = audit.verify_chain(store.audit_entries(), store.audit_head())
            assert report.ok, report.reason
            events = Counter(e.event for e in store.audit_entries())
        finally:
            store.close()
        assert events[audit.ACCEPTED] == MESSAGES
        assert events[audit.ACKNOWLEDGED] == MESSAGES

        counts = Counter(mid for mid, _ in seen.deliveries)
        duplicates = {mid: n for mid, n in counts.items() if n > 1}
        # After dedup by message id the application has every message exactly once. Redelivery is expected
        # from the killed replica's leases; a living replica may also redeliver when an acknowledgement
        # takes longer than the visibility timeout (a loaded machine) — that is at-least-once working, so
        # it is reported, not failed on.
        assert len(counts) == MESSAGES
        from_living = {mid for mid in duplicates if seen.first_from[mid] != VICTIM}
        per_replica = Counter(i for _, i in seen.deliveries)
        print(f"\nreplicas: {MESSAGES} messages in {elapsed:.1f} s ({MESSAGES / elapsed:.0f} msg/s end to end, "
              f"all accepted after {all_accepted_s:.1f} s); "
              f"replica {VICTIM} killed after {killed_at} accepted; deliveries per replica {dict(per_replica)}; "
              f"duplicate deliveries to the application {sum(duplicates.values()) - len(duplicates)} "
              f"({len(from_living)} first handed out by a living replica) "
              f"({len(duplicates)} messages), unique after dedup {len(counts)}; deliveries handed out more than once "
              f"by the node (lease taken over) {taken_over}; audit entries {report.entries_checked}")
    finally:
        stop.set()
        for c in clients:
            c.close()
        for t in threads:
            t.join(timeout=10)
        for i, r in enumerate(replicas):
            if i not in dead:
                r.stop()
