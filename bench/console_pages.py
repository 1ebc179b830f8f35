"""How fast the operator console's pages answer with many messages in the node (docs/console.md, "Speed").

Starts a de-node of a fresh test federation on loopback, fills it with ``--messages`` AED submissions (one
item each, over SubmitStream), then signs in to an in-process console against it and times every page (the
median of ``--rounds`` loads, each a full HTTP request: session check, Admin call(s) over mTLS, rendering).

    .venv/bin/python -m bench.console_pages --messages 100000

It is a benchmark scenario, not a test: it reports, and exits 1 only when a page fails to load.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import make_federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_client_profile, write_directory, \
    write_node_config

BUDGET_MS = 300.0


def fill(runner: NodeRunner, fed: object, n: int) -> str:
    post = connect(fed, "de-node", runner.address, "DE/POST/MAIN")  # type: ignore[arg-type]
    item = ""

    def requests() -> Iterator[exchange_pb2.SubmitRequest]:
        nonlocal item
        for i in range(n):
            batch = aed_batch(1, start=80_000_000 + i)
            item = batch.items[0].item_id
            yield exchange_pb2.SubmitRequest(format="swg.aed.v1", content=batch.SerializeToString())

    t0 = time.monotonic()
    done = 0
    for resp in post.exchange.SubmitStream(requests(), metadata=post.metadata):
        if resp.HasField("error"):
            raise SystemExit(f"submit refused: {resp}")
        done += 1
        if done % 1000 == 0 or done == n:
            rate = done / max(time.monotonic() - t0, 1e-9)
            print(f"\rfilled {done}/{n} messages ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    post.close()
    return item


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)

    from starlette.testclient import TestClient

    from gateway.client import ClientProfile
    from gateway.console import NodeApi, Users, create_app

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("building a test federation…", file=sys.stderr)
        fed = make_federation(tmp / "federation")
        port = free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        runner = NodeRunner(write_node_config(fed, tmp, "de-node", port, directory, log_level="warning")).start()
        try:
            item = fill(runner, fed, args.messages)
            profile = ClientProfile.load(write_client_profile(fed, tmp, "DE/CUSTOMS/MAIN", runner.address,
                                                              ("admin", "assist")))
            users = Users.load(tmp / "users.toml", missing_ok=True)
            users.add("bench", "operator", "bench-password-1")
            api = NodeApi(profile)
            client = TestClient(create_app(api, users, secret_key="bench"))
            page = client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            client.post("/login", data={"csrf": csrf.group(1), "username": "bench", "password": "bench-password-1"})
            pages = ["/", "/messages", "/messages?participant=DE%2FCUSTOMS%2FMAIN", f"/messages?item_id={item}",
                     "/messages?state=FAILED", f"/items?item_id={item}", "/dead-letters", "/kpis", "/directory",
                     "/evidence", "/assistance"]
            failed = False
            print(f"{'page':60} {'median ms':>10} {'max ms':>8}")
            for path in pages:
                times = []
                for _ in range(args.rounds):
                    t0 = time.perf_counter()
                    r = client.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200 or "/login" in str(r.url):
                        failed = True
                        print(f"{path}: HTTP {r.status_code}", file=sys.stderr)
                        break
                med = statistics.median(times)
                flag = "" if med <= BUDGET_MS else f"  over {BUDGET_MS:.0f} ms"
                print(f"{path:60} {med:10.1f} {max(times):8.1f}{flag}")
            api.close()
        finally:
            runner.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
