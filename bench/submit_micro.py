"""The submit path in one process, without gRPC: N bench documents through ``Submitter.submit``.

    python -m bench.submit_micro [N] [--in-flight 128] [--profile FILE]

CPU µs per accepted message of the node's own work (check, decode, route, seal, group commit), the part
of ``submit_stream``'s CPU per item that is not gRPC. ``--profile`` writes a cProfile of the run
(``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import resource
import tempfile
import time
from pathlib import Path

from bench.documents import Documents
from bench.run import EXTRA_ROUTE, NODE, SENDER
from gateway.api.swg.v1 import exchange_pb2
from gateway.node import Node
from gateway.transport.server import configure_logging
from gateway.exchange.submission import Submitter
from gateway.testing.nodes import load_node
from gateway.testing.federation import make_federation


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process, by thread name."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        name = (task / "comm").read_text().strip()
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        out[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


async def run(node: Node, n: int, in_flight: int) -> float:
    submitter = Submitter(node, lambda _local: None)
    docs = Documents()
    requests = [exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=docs.next()) for _ in range(n)]
    free = asyncio.Semaphore(in_flight)

    async def one(req: exchange_pb2.SubmitRequest) -> None:
        async with free:
            await submitter.submit(SENDER, req)

    started, wall, before = time.process_time(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    threads_before = thread_cpu()
    await asyncio.gather(*(one(r) for r in requests))
    after = resource.getrusage(resource.RUSAGE_SELF)
    threads_after = thread_cpu()
    for name, cpu in sorted(threads_after.items()):
        spent = cpu - threads_before.get(name, 0.0)
        if spent > 0.01:
            print(f"  thread {name}: {spent * 1e6 / n:.0f} us CPU per submit")
    print(f"  {n / (time.perf_counter() - wall):.0f} submits/s; per submit user {(after.ru_utime - before.ru_utime) * 1e6 / n:.0f} us, "
          f"system {(after.ru_stime - before.ru_stime) * 1e6 / n:.0f} us, context switches "
          f"{(after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw) / n:.1f}")
    return time.process_time() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int, nargs="?", default=3000)
    p.add_argument("--in-flight", type=int, default=128)
    p.add_argument("--profile", type=Path)
    p.add_argument("--switch-interval", type=float, default=0.0, help="sys.setswitchinterval (s)")
    args = p.parse_args()
    if args.switch_interval:
        import sys
        sys.setswitchinterval(args.switch_interval)
    work = Path(tempfile.mkdtemp(prefix="swg-submit-micro-"))
    fed = make_federation(work / "pki")
    node = load_node(fed, work, NODE, extra_directory=EXTRA_ROUTE, ports={NODE: 1, "fr-node": 2}, log_level="warning")
    configure_logging("warning")  # the per-message INFO lines cost ~13 us (docs/performance.md); not this
    try:
        asyncio.run(run(node, 200, args.in_flight))  # warm-up: caches, first statements
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        cpu = asyncio.run(run(node, args.n, args.in_flight))
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        print(f"{args.n} submits: {cpu * 1e6 / args.n:.0f} us CPU each (node work without gRPC)")
    finally:
        node.store.close()


if __name__ == "__main__":
    main()
