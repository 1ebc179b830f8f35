"""Micro-benchmark of the group-commit writer alone: N accept ops (2 deliveries, 1 item, audit) on SQLite.

    python -m bench.writer_micro [N]
"""
import time, tempfile, os, uuid, sys
from gateway.store import Store, NewMessage, NewDelivery
from gateway import audit
d = tempfile.mkdtemp()
s = Store(f"sqlite:///{d}/x.db"); s.create_schema()
def msg(i):
    mid = str(uuid.uuid4())
    return NewMessage(message_id=mid, conversation_id=mid, in_reply_to="", sender="DE/POST/MAIN", document_type="swg.aed.v1",
        submit_sha256=os.urandom(32), envelope=os.urandom(3000), envelope_sha256=os.urandom(32), created_us=1, expires_us=10**17,
        accepted_us=1, origin="local", attributes={"destination_country": "DE"}, item_ids=(f"RR{i:09d}CN",),
        deliveries=(NewDelivery("DE/CUSTOMS/MAIN","local"), NewDelivery("DE/TAX/MAIN","local")),
        audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor="DE/POST/MAIN", detail={"a": 1, "recipients": ["x","y"]}))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
for rnd in range(2):
    msgs = [msg(i) for i in range(N)]
    t = time.perf_counter(); c0 = time.process_time()
    futs = [s.writer.submit(s.op_accept(m)) for m in msgs]
    for f in futs: f.result()
    el = time.perf_counter() - t; c = time.process_time() - c0
    print(f"{N} accepts: {N/el:.0f}/s, {c*1e6/N:.0f} us CPU each")
s.close()
