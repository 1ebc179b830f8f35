"""Micro-benchmark of the group-commit writer alone: N accept ops (2 deliveries, 1 item, audit) on SQLite.

    python -m bench.writer_micro [N] [--wave K]

``--wave K`` hands the writer K ops at a time and waits for them (batches of about K, as under a light
load); by default all N are queued at once (batches of up to MAX_BATCH, as under a heavy load).
"""
import argparse
import os
import resource
import tempfile
import time
import uuid

from gateway.evidence import audit
from gateway.store import NewDelivery, NewMessage, Store


def msg(i: int) -> NewMessage:
    mid = str(uuid.uuid4())
    return NewMessage(
        message_id=mid, conversation_id=mid, in_reply_to="", sender="DE/POST/MAIN", document_type="swg.aed.v1",
        submit_sha256=os.urandom(32), envelope=os.urandom(3000), envelope_sha256=os.urandom(32), created_us=1,
        expires_us=10**17, accepted_us=1, origin="local", attributes={"destination_country": "DE"},
        item_ids=(f"RR{i:09d}CN",),
        deliveries=(NewDelivery("DE/CUSTOMS/MAIN", "local"), NewDelivery("DE/TAX/MAIN", "local")),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor="DE/POST/MAIN", detail={"a": 1, "recipients": ["x", "y"]}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int, nargs="?", default=5000)
    p.add_argument("--wave", type=int, default=0)
    args = p.parse_args()
    s = Store(f"sqlite:///{tempfile.mkdtemp()}/x.db")
    s.create_schema()
    wave = args.wave or args.n
    for round_ in range(2):
        # Fresh item ids each round: an AED of items already declared is an update (another audit entry).
        msgs = [msg(round_ * args.n + i) for i in range(args.n)]
        t, c0, r0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        for start in range(0, args.n, wave):
            futs = [s.accept(m) for m in msgs[start:start + wave]]
            for f in futs:
                f.result()
        el, c, r1 = time.perf_counter() - t, time.process_time() - c0, resource.getrusage(resource.RUSAGE_SELF)
        print(f"{args.n} accepts in waves of {wave}: {args.n / el:.0f}/s, {c * 1e6 / args.n:.0f} us CPU each "
              f"(user {(r1.ru_utime - r0.ru_utime) * 1e6 / args.n:.0f}, system {(r1.ru_stime - r0.ru_stime) * 1e6 / args.n:.0f})")
    s.close()


if __name__ == "__main__":
    main()
