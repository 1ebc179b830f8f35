"""`gateway audit verify`: re-walk a node's audit chain and signed checkpoints, straight from its database.
`gateway audit status`: how stale the node's newest checkpoint time-stamp is (Admin.GetAuditStatus)."""

from __future__ import annotations

import sys
from typing import Any

from gateway.cli._common import add_client_arg
from gateway.errors import GatewayError


def register(sub: Any) -> None:
    a = sub.add_parser("audit", help="the node's tamper-evident audit log")
    asub = a.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="verify the hash chain, the signed checkpoints and their cadence "
                                       "([audit] checkpoint_interval_s); exit 0 if intact, 1 if not")
    v.add_argument("--config", required=True, metavar="FILE", help="node config TOML (reads its database directly)")
    v.set_defaults(func=_verify)
    st = asub.add_parser("status", help="RFC 3161 time-stamps of checkpoints: age of the newest stamp, checkpoints "
                                        "waiting for the TSA")
    add_client_arg(st)
    st.set_defaults(func=_status)
    p = asub.add_parser("prove", help="print a C2SP tlog-proof style inclusion proof of an audit entry in the "
                                      "node's Merkle log (docs/evidence.md); exit 0, 1 if there is none")
    p.add_argument("ref", metavar="ENTRY|MESSAGE_ID", help="an entry seq, or a message id (its latest entry)")
    p.add_argument("--config", required=True, metavar="FILE", help="node config TOML (reads its database directly)")
    p.set_defaults(func=_prove)


def _prove(args: Any) -> int:
    from gateway.evidence import auditor
    from gateway.config import load_node_config
    from gateway.store import Store

    cfg = load_node_config(args.config)
    store = Store(cfg.database_url)
    try:
        print(auditor.inclusion_text(store, cfg.name, args.ref), end="")
    except GatewayError as exc:
        print(f"no proof: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _verify(args: Any) -> int:
    from gateway.evidence import auditor
    from gateway.config import load_node_config
    from gateway.store import Store
    from gateway.crypto.trust import TrustStore

    cfg = load_node_config(args.config)
    trust = TrustStore.from_files(cfg.tls.ca, cfg.tls.crl)
    store = Store(cfg.database_url)
    try:
        rep = auditor.verify_store(store, trust, cfg.name, auditor.cadence_of(cfg))
    except GatewayError as exc:
        print(f"cannot read the audit log: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if rep.ok:
        print(f"OK: {rep.entries_checked} entries, {rep.checkpoints_checked} signed checkpoint(s); "
              f"head {rep.head_hash.hex()}")
    else:
        print(f"BROKEN at entry {rep.first_bad_seq}: {rep.reason} "
              f"({rep.entries_checked} entries and {rep.checkpoints_checked} checkpoint(s) checked)")
    for warning in rep.warnings:
        print(f"warning: {warning}")
    return 0 if rep.ok else 1


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _status(args: Any) -> int:
    import grpc

    from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc
    from gateway.cli._common import connect, fail

    _, channel, tokens = connect(args.client, "admin")
    try:
        resp = admin_pb2_grpc.AdminStub(channel).GetAuditStatus(admin_pb2.GetAuditStatusRequest(),
                                                                metadata=tokens.metadata())
    except grpc.RpcError as err:
        return fail(err)
    if not resp.timestamping_enabled:
        print(f"time-stamping: off (no [audit] tsa_url); {resp.waiting} checkpoint(s) not stamped")
        return 0
    print(f"time-stamping: {resp.tsa_url}")
    if resp.HasField("newest_stamp_time"):
        print(f"newest stamp: checkpoint at entry {resp.newest_stamped_checkpoint}, "
              f"{resp.newest_stamp_time.ToDatetime().isoformat()}Z, {_age(resp.newest_stamp_age_seconds)} ago")
    else:
        print("newest stamp: none yet")
    if resp.waiting:
        print(f"waiting: {resp.waiting} checkpoint(s), the oldest for {_age(resp.oldest_waiting_seconds)}")
        if resp.last_error:
            print(f"last error: {resp.last_error}")
    else:
        print("waiting: 0")
    return 0
