"""Seal/open CPU, envelope bytes and throughput of the crypto profiles, side by side in one process.

    python -m bench.crypto_micro [--messages 200] [--recipients 2]

``bench.run`` calls ``measure`` for classic and hybrid-pq in every run (the "crypto" part of latest.json).
Seal is measured twice: with the node's KEK reuse (one HPKE seal per recipient per window, the steady
state) and with a fresh KEK per message (the cost of the first message to a recipient); open always pays
the HPKE open (the opened-KEK cache is emptied before each).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.documents import Documents
from gateway import envelope
from gateway.envelope import kek as kek_mod
from gateway.testing.federation import Federation, header, make_federation

SENDER = "DE/POST/MAIN"
RECIPIENTS = ("DE/CUSTOMS/MAIN", "DE/TAX/MAIN", "FR/CUSTOMS/MAIN", "FR/POST/MAIN", "DE/POST/MAIN")
FIELDS = ("seal_us", "seal_fresh_kek_us", "open_us", "envelope_bytes", "overhead_bytes", "seal_per_s", "open_per_s")


def _cpu() -> float:
    return time.process_time()


def measure(fed: Federation, profile: str, messages: int = 200, recipients: int = 2) -> dict[str, Any]:
    hybrid = profile == envelope.HYBRID_PQ
    names = list(RECIPIENTS[:recipients])
    certs = fed.recipients(names, hybrid=hybrid)
    keys = fed.keys(SENDER)
    payload = Documents().next()  # the bench document (its size; seal does not parse it)
    out: dict[str, Any] = {"profile": profile, "messages": messages, "recipients": recipients,
                           "payload_bytes": len(payload)}
    timings = {}
    for label, ring in (("seal_us", envelope.KekRing()), ("seal_fresh_kek_us", envelope.KekRing(max_messages=1))):
        sealed = []
        start = _cpu()
        for _ in range(messages):
            sealed.append(envelope.seal(header(SENDER, names), payload, keys, certs, ring, profile=profile))
        timings[label] = (_cpu() - start) / messages
        if label == "seal_fresh_kek_us":
            fresh = sealed
    recipient = fed.keys(names[0])
    start = _cpu()
    for s in fresh:
        kek_mod.OPENED_KEKS.clear()
        envelope.open(s.data, recipient, fed.trust, pq_keys=fed)
    timings["open_us"] = (_cpu() - start) / messages
    size = sum(len(s.data) for s in fresh) / messages
    out.update({k: round(v * 1e6, 1) for k, v in timings.items()})
    out["envelope_bytes"] = round(size)
    out["overhead_bytes"] = round(size - len(payload))
    out["seal_per_s"] = round(1 / timings["seal_us"]) if timings["seal_us"] else 0
    out["open_per_s"] = round(1 / timings["open_us"]) if timings["open_us"] else 0
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'crypto profile':<16}" + "".join(f"{f:>19}" for f in FIELDS)
    lines = [head] + [f"{r['profile']:<16}" + "".join(f"{r[f]:>19}" for f in FIELDS) for r in rows]
    return "\n".join(lines)


def compare(fed: Federation, messages: int = 200, recipients: int = 2) -> list[dict[str, Any]]:
    return [measure(fed, p, messages, recipients) for p in (envelope.CLASSIC, envelope.HYBRID_PQ)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crypto_micro", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--recipients", type=int, default=2, choices=range(1, len(RECIPIENTS) + 1))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="swg-crypto-") as tmp:
        print(table(compare(make_federation(Path(tmp) / "pki"), args.messages, args.recipients)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
