"""`gateway archive run | verify`: retention archives of final messages, and their offline check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError


def register(sub: Any) -> None:
    a = sub.add_parser("archive", help="retention: archive final messages to signed, hash-linked files and prune them")
    asub = a.add_subparsers(dest="archive_command", required=True)
    r = asub.add_parser("run", help="archive and prune every final message older than [retention] keep_days now "
                                    "(the node's background task does the same every [retention] interval_s)")
    r.add_argument("--config", required=True, metavar="FILE", help="node config TOML (uses its database directly)")
    r.set_defaults(func=_run)
    v = asub.add_parser("verify", help="verify a folder's chain of archives offline: signatures, member digests, "
                                       "links; exit 0 if intact, 1 naming the first bad file")
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--ca", required=True, metavar="CA.crt")
    v.add_argument("--crl", metavar="CRL.pem", help="the federation's current CRL (recommended)")
    v.set_defaults(func=_verify)


def _run(args: Any) -> int:
    from gateway.config import load_node_config
    from gateway.evidence import archiver
    from gateway.store import Store

    cfg = load_node_config(args.config)
    store = Store(cfg.database_url)
    try:
        rep = archiver.run_configured(store, cfg)
    except GatewayError as exc:
        print(f"gateway archive run: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if rep.resumed:
        print(f"resumed {rep.resumed} (written before an interrupted run)")
    for name in rep.archives:
        print(f"wrote {name}")
    print(f"{rep.archived} message(s) archived, {rep.pruned} pruned from the database")
    return 0


def _verify(args: Any) -> int:
    from gateway.crypto.trust import TrustStore
    from gateway.evidence import archive

    trust = TrustStore.from_files(args.ca, args.crl)
    try:
        rep = archive.verify_chain(Path(args.dir), trust)
    except (archive.ArchiveInvalid, GatewayError) as exc:
        print(f"INVALID: {exc}")
        return 1
    assert rep.head is not None
    print(f"VALID: {rep.archives} archive(s), {rep.messages} message(s); last {rep.head[0]} "
          f"sha256 {rep.head[1].hex()}")
    return 0
