"""Micro-benchmark of the adapters on the bench's own document: CPU µs per call, no node, no gRPC.

    python -m bench.codec_micro [N]

Measures, on the ~2.1 KB single-item ITMATT document of ``bench.documents`` (a fresh S10 id per call, as
in the bench): ``registry.decode("upu.itmatt.v1", ...)`` (parse + read + validate, what Submit pays),
its parts, and ``registry.encode`` into the formats the bench's recipients ask for (DE/CUSTOMS/MAIN:
``wco.ecommerce.v1``; DE/TAX/MAIN names no AED format, so it gets the canonical ``swg.aed.v1``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from adapters import registry, validation
from adapters.upu import itmatt
from adapters.xml import parse_xml
from bench.documents import Documents


def cpu_us(fn: Callable[[], object], n: int, rounds: int = 9) -> float:
    """Best of ``rounds`` of ``n`` calls, in µs of process CPU per call (best: least disturbed by others).

    On a shared machine CPU time still grows with contention (caches, hyperthreads), so compare
    before/after figures taken back to back, and prefer many short rounds to a few long ones."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


def main(n: int) -> None:
    docs = Documents()
    pool = [docs.next() for _ in range(256)]
    it = iter(range(1 << 62))

    def doc() -> bytes:
        return pool[next(it) % len(pool)]

    _, batch = registry.decode("upu.itmatt.v1", pool[0])
    rows = [
        ("decode upu.itmatt.v1 (registry.decode)", lambda: registry.decode("upu.itmatt.v1", doc())),
        ("  parse_xml", lambda: parse_xml(doc())),
        ("  itmatt.decode_located (parse + read)", lambda: itmatt.decode_located(doc())),
        ("  validation.validate", lambda: validation.validate("swg.aed.v1", batch)),
        ("encode wco.ecommerce.v1", lambda: registry.encode("wco.ecommerce.v1", "swg.aed.v1", batch)),
        ("encode swg.aed.v1 (protobuf)", lambda: registry.encode("swg.aed.v1", "swg.aed.v1", batch)),
        ("encode upu.itmatt.v1", lambda: registry.encode("upu.itmatt.v1", "swg.aed.v1", batch)),
    ]
    print(f"document: {len(docs)} bytes; {n} calls per round, best of 9")
    for label, fn in rows:
        fn()
        print(f"{label:<42} {cpu_us(fn, n):8.1f} µs CPU")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
