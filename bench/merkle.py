"""Proof generation on a large audit Merkle tree: how long an inclusion or consistency proof takes at N entries.

    python -m bench.merkle [N]        (default 1,000,000)

Builds the tree table of N leaves in a SQLite file with the writer's own code (``audit_tree.append_leaves``,
pages of 10,000 leaves, as the writer would batch them; the audit_log rows themselves are not written,
a proof never reads them), then times proofs through ``Store.audit_tree_nodes`` (one indexed query a proof)
for leaves spread over the log and checks each one. Reports wall-clock milliseconds per proof (median, p99).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, insert

import gateway.store.schema as t
from gateway.evidence import merkle
from gateway.store import Store, audit_tree


def build(db: Path, n: int) -> None:
    engine = create_engine(f"sqlite:///{db}")
    t.metadata.create_all(engine)
    edge: dict[audit_tree.Node, bytes] = {}
    size, started = 0, time.monotonic()
    with engine.begin() as conn:
        while size < n:
            page = min(10_000, n - size)
            leaves = [audit_tree.leaf_hash(b"entry %d" % i) for i in range(size, size + page)]
            nodes = audit_tree.append_leaves(size, edge, leaves)
            conn.execute(insert(t.audit_tree), [{"level": lv, "idx": i, "hash": h} for lv, i, h in nodes])
            made = {(lv, i): h for lv, i, h in nodes}
            size += page
            edge = {k: made[k] if k in made else edge[k] for k in audit_tree.frontier(size)}
            if size % 100_000 == 0:
                print(f"  {size:,} leaves ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "merkle.db"
        started = time.monotonic()
        build(db, n)
        print(f"built the tree of {n:,} leaves in {time.monotonic() - started:.1f} s")
        store = Store(f"sqlite:///{db}")
        try:
            read = store.audit_tree_nodes
            root = merkle.root(n, read)
            rnd = random.Random(15)
            incl, cons = [], []
            for _ in range(500):
                i = rnd.randrange(n)
                t0 = time.perf_counter()
                path = merkle.inclusion_proof(i, n, read)
                incl.append(time.perf_counter() - t0)
                merkle.verify_inclusion(i, n, audit_tree.leaf_hash(b"entry %d" % i), path, root)
                old = rnd.randrange(1, n)
                t0 = time.perf_counter()
                proof = merkle.consistency_proof(old, n, read)
                cons.append(time.perf_counter() - t0)
                merkle.verify_consistency(old, n, merkle.root(old, read), root, proof)
        finally:
            store.close()
    for name, xs in (("inclusion", incl), ("consistency", cons)):
        xs.sort()
        print(f"{name:12s} proof at {n:,} entries: median {statistics.median(xs) * 1000:.2f} ms, "
              f"p99 {xs[int(len(xs) * 0.99)] * 1000:.2f} ms ({len(xs)} proofs, each verified)")


if __name__ == "__main__":
    main()
