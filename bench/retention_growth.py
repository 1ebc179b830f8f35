"""Database growth per message with and without retention (docs/deploy.md "Database growth").

Starts a throwaway federation and one node on SQLite, submits N one-item AEDs, receives and acknowledges
them, measures the database (gateway.store.Store.stats()), runs retention as of two days later and
measures again. Prints bytes per message per table before and after the run.

    .venv/bin/python -m bench.retention_growth [N]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from gateway.api.swg.v1 import exchange_pb2
from gateway.clock import now_us
from gateway.config import load_node_config
from gateway.evidence import archiver
from gateway.store import Store
from gateway.testing.documents import aed_batch
from gateway.testing.federation import make_federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_directory, write_node_config

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
WARMUP = 20


def _sizes(store: Store) -> tuple[dict[str, int], int, int]:
    st = store.stats()
    return {t.name: t.bytes or 0 for t in st.tables}, st.database_bytes, st.free_bytes or 0


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        fed = make_federation(tmp / "fed")
        port = free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        cfg_path = write_node_config(fed, tmp, "de-node", port, directory, log_level="warning")
        cfg_path.write_text(cfg_path.read_text() + f'\n[retention]\nkeep_days = 1\narchive_dir = "{tmp / "arch"}"\n')
        cfg = load_node_config(cfg_path)
        runner = NodeRunner(cfg_path).start()
        post = connect(fed, "de-node", runner.address, POST)
        customs = connect(fed, "de-node", runner.address, CUSTOMS)
        store = runner.node.store

        def traffic(count: int, start: int) -> None:
            ids = []
            for i in range(count):
                req = exchange_pb2.SubmitRequest(format="swg.aed.v1",
                                                 content=aed_batch(1, start=start + i).SerializeToString())
                ids.append(post.exchange.Submit(req, metadata=post.metadata, timeout=30).message_id)
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1}/{count} submitted", file=sys.stderr)
            got = 0
            while got < count:
                batch = customs.receive(min(10, count - got))
                customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[d.message_id for d in batch]),
                                             metadata=customs.metadata, timeout=30)
                got += len(batch)

        try:
            traffic(WARMUP, 10_000_000)
            before, _, _ = _sizes(store)
            traffic(n, 20_000_000)
            full, file_full, _ = _sizes(store)
            rep = archiver.run_configured(store, cfg, at_us=now_us() + 2 * archiver.DAY_US)
            pruned, file_after, free_after = _sizes(store)
            traffic(n, 30_000_000)
            _, file_reused, free_reused = _sizes(store)
            archives = sum(p.stat().st_size for p in (tmp / "arch").glob("archive-*.zip"))
        finally:
            post.close()
            customs.close()
            runner.close()
    total = n + WARMUP
    print(f"{n} messages (+{WARMUP} warm-up), {rep.pruned} pruned into {len(rep.archives)} archive(s)")
    print(f"{'table':<20} {'B/msg kept':>12} {'B/msg pruned':>13}")
    for name in sorted(full):
        grown = (full[name] - before.get(name, 0)) / n
        print(f"{name:<20} {grown:>12,.0f} {pruned[name] / total:>13,.0f}")
    print(f"{'tables, per message':<20} {(sum(full.values()) - sum(before.values())) / n:>12,.0f} "
          f"{sum(pruned.values()) / total:>13,.0f}")
    print(f"file: {file_full:,} B before the run, {file_after:,} B after ({free_after:,} B of it free pages)")
    print(f"then {n} more messages: file {file_reused:,} B ({free_reused:,} B free): "
          f"{(file_reused - file_after) / n:,.0f} B of file growth per message")
    print(f"archives: {archives:,} B, {archives / total:,.0f} B per message")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
