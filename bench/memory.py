"""`make bench-memory`: queue many undelivered messages in one node; its RSS must stay flat and a new
Receive stream must still start promptly. Writes ``bench/results/memory.json``.

    python -m bench.memory [--items 1000000] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.run import ROOT, Bench


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--database-url", default="")
    p.add_argument("--processes", type=int, default=1, help="[node] processes of the node under test")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory.json")
    args = p.parse_args(argv)
    # The Bench helpers read these; the duration is unused, the item count ends the run.
    args.duration, args.warmup, args.rate, args.drain, args.profile = 0.0, 0.0, 0.0, 0.0, None
    with tempfile.TemporaryDirectory(prefix="swg-bench-memory-") as tmp:
        bench = Bench(args, Path(tmp))
        proc = bench.start_node(0)
        try:
            bench.extra_spec = {"items": args.items}
            result = bench.load("memory", proc.pid)
        finally:
            bench.stop(proc)
    result["node_start_to_serving_s"] = round(bench.start_times[0], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"queued {result['queued']} undelivered messages; node RSS first {result['rss_first_mb']} MB, "
          f"max {result['rss_max_mb']} MB, last {result['rss_last_mb']} MB; fresh Receive: first delivery after "
          f"{result['receive_first_delivery_s']} s, 64 after {result['receive_first_64_s']} s; "
          f"{result['items_per_s']} msg/s while queueing")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
