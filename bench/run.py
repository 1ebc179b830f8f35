"""`make bench`: drives a real node and a bare gRPC echo baseline with one load generator, in one run.

Every piece is its own process: the echo server, each node (started fresh per scenario from a temp
SQLite database, so one scenario's backlog does not slow the next) and the load generator. The test
PKI is generated into a temp dir. Results: a table on stdout and ``bench/results/latest.json``.

    python -m bench.run [--duration 10] [--concurrency 64] [--rate 500] [--database-url URL]
                        [--crypto-profile classic|hybrid-pq]

Every run also measures seal/open CPU, envelope bytes and throughput of both crypto profiles side by side
(bench.crypto_micro; "crypto" in latest.json); ``--crypto-profile`` chooses the profile of the node
scenarios (the directory's ``[crypto] profile``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import crypto_micro
from gateway.crypto.tokens import issue_token
from gateway.envelope.profiles import CLASSIC, PROFILES
from gateway.testing.nodes import sign_directory, write_directory, write_node_config
from gateway.testing.federation import Federation, make_federation

ROOT = Path(__file__).resolve().parents[1]
NODE = "de-node"
SENDER = "DE/POST/MAIN"
RECEIVERS = ("DE/CUSTOMS/MAIN", "DE/TAX/MAIN")
SCENARIOS = ("echo", "echo_stream", "submit_unary", "submit_stream", "end_to_end", "open_loop")
# Run only when named (--scenarios): large_doc_latency is Health/Check latency while maximum-size documents
# are submitted and received (items = health checks).
OPTIONAL_SCENARIOS = ("large_doc_latency",)
FIELDS = ("items_per_s", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_item", "rss_mb", "ratio_to_echo")
# AED for Germany goes to customs (the example directory's rule) and, in the bench, also to the tax
# authority: every message is sealed to two recipients.
EXTRA_ROUTE = """
[[routes]]
document_type = "swg.aed.v1"
from = ["*/POST/*"]
to = ["DE/TAX/MAIN"]
when = { destination_country = "DE" }
"""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        say(f"generating the test PKI in {work / 'pki'} ...")
        self.fed: Federation = make_federation(work / "pki")
        self.port = free_port()
        self.directory = write_directory(self.fed, work, {NODE: self.port, "fr-node": free_port()}, EXTRA_ROUTE)
        profile = getattr(args, "crypto_profile", CLASSIC)  # bench.memory builds its own arguments
        if profile != CLASSIC:  # every participant announces PQ keys: hybrid only, no window
            sign_directory(self.fed, self.directory, self.directory.read_text().replace(
                'profile = "classic"', f'profile = "{profile}"'))
        self.start_times: list[float] = []
        self.extra_spec: dict[str, Any] = {}
        self.tokens = {p: self._token(p) for p in (SENDER, *RECEIVERS)}

    def _token(self, participant: str) -> str:
        np, pp = self.fed.paths.nodes[NODE], self.fed.paths.participants[participant]
        return issue_token(signing_key_pem=np.token_key.read_bytes(), issuer=f"swg:{NODE}", audience=f"swg:{NODE}",
                           participant=participant, scopes=("submit", "receive", "status"),
                           client_cert_pem=pp.client_cert.read_bytes(), lifetime_s=3600)

    def participants(self) -> dict[str, dict[str, str]]:
        out = {}
        for p, token in self.tokens.items():
            pp = self.fed.paths.participants[p]
            out[p] = {"cert": str(pp.client_cert), "key": str(pp.client_key), "token": token}
        return out

    # --- servers -----------------------------------------------------------------------------------------

    def start_echo(self) -> subprocess.Popen[str]:
        np = self.fed.paths.nodes[NODE]
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.echo_server", "--ca", str(self.fed.paths.ca_cert), "--cert",
             str(np.tls_cert), "--key", str(np.tls_key), "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            proc.kill()
            raise SystemExit("the echo server did not start")
        return proc

    def start_node(self, run: int) -> subprocess.Popen[bytes]:
        db = self.args.database_url or f"sqlite:///{self.work / f'node-{run}.db'}"
        out = self.work / f"run-{run}"
        out.mkdir()
        limits = "\n".join(["max_in_flight_per_stream = 1024", *getattr(self.args, "limits", [])])
        config = write_node_config(self.fed, out, NODE, self.port, self.directory, database_url=db, limits=limits,
                                   processes=self.args.processes)
        log = open(out / "node.log", "wb")
        spawned = time.perf_counter()
        cmd = [sys.executable, "-m", "gateway", "serve", "--config", str(config)]
        if self.args.profile:
            # py-spy samples the node from outside; the profile is written when the node stops.
            self.args.profile.mkdir(parents=True, exist_ok=True)
            cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "250",
                   "--nonblocking", "-o", str(self.args.profile / f"node-{run}.txt"), "--", *cmd]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log)
        self.wait_serving(proc, out / "node.log")
        took = time.perf_counter() - spawned
        if not self.args.profile:  # under the profiler the start is slower and not what users see
            self.start_times.append(took)
        say(f"  node started (pid {proc.pid}) and SERVING after {took:.2f} s")
        return proc

    def wait_serving(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        pp = self.fed.paths.participants[SENDER]
        creds = grpc.ssl_channel_credentials(self.fed.paths.ca_cert.read_bytes(), pp.client_key.read_bytes(),
                                             pp.client_cert.read_bytes())
        deadline = time.monotonic() + 60
        # grpc's client backs off ~1 s, then 1.6 s, between failed connects: without these options the probe
        # would measure its own backoff rather than when the node starts serving.
        options = [("grpc.initial_reconnect_backoff_ms", 20), ("grpc.min_reconnect_backoff_ms", 20),
                   ("grpc.max_reconnect_backoff_ms", 50)]
        with grpc.secure_channel(f"127.0.0.1:{self.port}", creds, options=options) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise SystemExit(f"the node exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    resp = stub.Check(health_pb2.HealthCheckRequest(service="swg.v1.Exchange"), timeout=1)
                    if resp.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.01)
        raise SystemExit("the node did not become SERVING within 60 s")

    @staticmethod
    def stop(proc: subprocess.Popen[Any]) -> None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # --- scenarios ---------------------------------------------------------------------------------------

    def load(self, scenario: str, server_pid: int) -> dict[str, Any]:
        spec = {
            "scenario": scenario, "address": f"127.0.0.1:{self.port}", "ca": str(self.fed.paths.ca_cert),
            "server_pid": server_pid, "duration_s": self.args.duration, "warmup_s": self.args.warmup,
            "concurrency": self.args.concurrency, "streams": self.args.streams, "rate": self.args.rate,
            "connections": getattr(self.args, "connections", 1),
            "sender": SENDER, "receivers": list(RECEIVERS), "participants": self.participants(),
            "drain_s": self.args.drain, **self.extra_spec,
        }
        path = self.work / f"spec-{scenario}.json"
        path.write_text(json.dumps(spec))
        done = subprocess.run([sys.executable, "-m", "bench.loadgen", str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the load generator failed in {scenario} (exit {done.returncode})")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def scenario(self, name: str, run: int) -> dict[str, Any]:
        say(f"{name}:")
        baseline = name.startswith("echo")
        proc = self.start_echo() if baseline else self.start_node(run)
        pid = server_pid(proc.pid) if self.args.profile and not baseline else proc.pid
        try:
            return self.load(name, pid)
        finally:
            if pid != proc.pid:
                os.kill(pid, signal.SIGTERM)  # py-spy writes its profile once the node it watches is gone
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=60)
            self.stop(proc)


def server_pid(profiler_pid: int) -> int:
    """The node process py-spy started (its only child)."""
    children = Path(f"/proc/{profiler_pid}/task/{profiler_pid}/children").read_text().split()
    return int(children[0]) if children else profiler_pid


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def table(results: dict[str, dict[str, Any]]) -> str:
    columns = FIELDS + ("ratio_to_echo_stream",)
    head = f"{'scenario':<14}" + "".join(f"{f:>16}" for f in columns[:-1]) + f"{'ratio_to_stream':>16}{'errors':>8}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(f"{name:<14}" + "".join(f"{r.get(f, ''):>16}" for f in columns) + f"{r.get('errors', 0):>8}")
    return "\n".join(lines)


# Performance round 4 (issue 20): the floor this round must reach, and the project's goal beyond it.
# (scenario, what, floor, goal, higher is better)
TARGETS = (
    ("end_to_end", "items_per_s", 750.0, 1500.0, True),
    ("submit_stream", "items_per_s", 1800.0, 3000.0, True),
    ("submit_unary", "ratio_to_echo", 0.30, 0.5, True),
    ("open_loop", "p99_ms", 50.0, 20.0, False),
    ("end_to_end", "lost", 0, 0, False),
)


def target_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per target whose scenario ran: the figure, the round's floor and the goal, met or missed."""
    lines = []
    for scenario, what, floor, goal, higher in TARGETS:
        if scenario not in results or what not in results[scenario]:
            continue
        value = float(results[scenario][what])
        def met(limit: float) -> bool:
            return value >= limit if higher else value <= limit
        sign = ">=" if higher else "<="
        lines.append(f"{scenario} {what} {value:g}: round floor {sign} {floor:g} "
                     f"{'met' if met(floor) else 'MISSED'}; goal {sign} {goal:g} {'met' if met(goal) else 'missed'}")
    return lines


def git_revision() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per scenario (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each (default 2)")
    p.add_argument("--concurrency", type=int, default=128, help="calls/requests in flight (default 128)")
    p.add_argument("--streams", type=int, default=4, help="SubmitStream calls sharing --concurrency (default 4)")
    p.add_argument("--connections", type=int, default=4,
                   help="TCP connections the sender's load is spread over (default 4; SO_REUSEPORT hands each "
                        "to one node worker process)")
    p.add_argument("--rate", type=float, default=500.0, help="offered messages/s of open_loop (default 500)")
    p.add_argument("--drain", type=float, default=60.0, help="end_to_end: seconds allowed to drain (default 60)")
    p.add_argument("--database-url", default="", help="default: a fresh temp SQLite file per scenario; e.g. "
                   "postgresql+psycopg://user@host/db (then scenarios share that database)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="run each node under py-spy (pip install py-spy) and write collapsed stacks to DIR")
    p.add_argument("--processes", type=int, default=1,
                   help="[node] processes of the node: worker processes on one port (default 1)")
    p.add_argument("--limits", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra [limits] line of the node config, e.g. 'codec_processes = 0' (everything "
                        "inline, as before the worker pool); repeatable")
    p.add_argument("--crypto-profile", choices=PROFILES, default=CLASSIC,
                   help="crypto profile of the node scenarios (default classic); both profiles' seal/open "
                        "figures are measured in every run")
    p.add_argument("--crypto-messages", type=int, default=200,
                   help="messages per crypto profile in the seal/open comparison (default 200; 0 skips it)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = p.parse_args(argv)
    names = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS + OPTIONAL_SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS + OPTIONAL_SCENARIOS)}")
    if "echo" not in names:
        names.insert(0, "echo")  # every ratio is against the echo of the same run
    results: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="swg-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        for i, name in enumerate(names):
            results[name] = bench.scenario(name, i)
        crypto: list[dict[str, Any]] = []
        if args.crypto_messages > 0:
            say(f"crypto profiles: sealing and opening {args.crypto_messages} messages each ...")
            crypto = crypto_micro.compare(bench.fed, args.crypto_messages, len(RECEIVERS))
    echo = results["echo"]["items_per_s"] or 1.0
    for r in results.values():
        r["ratio_to_echo"] = round(r["items_per_s"] / echo, 3)
    if "echo_stream" in results:
        # The fair ceiling of the streamed scenarios: the same requests over bare bidirectional streams.
        echo_stream = results["echo_stream"]["items_per_s"] or 1.0
        for name in ("echo_stream", "submit_stream", "end_to_end"):
            if name in results:
                results[name]["ratio_to_echo_stream"] = round(results[name]["items_per_s"] / echo_stream, 3)
    starts = bench.start_times
    report = {
        **results,
        "targets": target_lines(results),
        "crypto": {r["profile"]: r for r in crypto},
        "node_start_to_serving_s": {"median": round(statistics.median(starts), 3), "max": round(max(starts), 3),
                                    "runs": len(starts)} if starts else {},
        "meta": {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": git_revision(),
                 "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                 "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after":
                 [round(x, 2) for x in os.getloadavg()], "database": args.database_url or "sqlite (temp file)",
                 "args": {k: str(v) for k, v in vars(args).items()}},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    if crypto:
        print(f"crypto profiles (node scenarios above ran {args.crypto_profile}; {len(RECEIVERS)} recipients, "
              "µs CPU per message):")
        print(crypto_micro.table(crypto))
    if starts:
        print(f"node start to SERVING: median {report['node_start_to_serving_s']['median']} s, "
              f"max {report['node_start_to_serving_s']['max']} s over {len(starts)} starts")
    if "end_to_end" in results:
        e = results["end_to_end"]
        print(f"end_to_end: submitted {e['submitted']}, acknowledged {e['acknowledged']}, lost {e['lost']}; "
              f"status checked {e['status_checked']}, with receipts {e['status_with_receipts']}")
    for line in target_lines(results):
        print("target: " + line)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
