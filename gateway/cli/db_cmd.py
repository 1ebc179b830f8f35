"""`gateway db upgrade` and `gateway db status` (the schema revision), `gateway db stats` (what it holds)."""

from __future__ import annotations

import sys
from typing import Any

from gateway.errors import GatewayError


def register(sub: Any) -> None:
    d = sub.add_parser("db", help="node database: schema migrations, size")
    dsub = d.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="apply schema migrations up to the newest revision (safe to repeat, "
                                          "safe to run from several replicas at once)")
    up.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    up.set_defaults(func=_upgrade)
    st = dsub.add_parser("status", help="print the database's revision and the newest one this version knows")
    st.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    st.set_defaults(func=_status)
    sz = dsub.add_parser("stats", help="rows and bytes per table, and the oldest delivery not finished yet")
    sz.add_argument("--config", required=True, metavar="FILE", help="node config TOML (reads its database directly)")
    sz.set_defaults(func=_stats)


def _database_url(path: str) -> str:
    from gateway.config import load_node_config

    return load_node_config(path).database_url


def _upgrade(args: Any) -> int:
    from gateway.store import migrate

    url = _database_url(args.config)
    try:
        result = migrate.upgrade(url)
    except GatewayError as exc:
        print(f"{args.config}: database.url: {exc}", file=sys.stderr)
        return 1
    if result.changed:
        print(f"database upgraded from {result.before or 'empty'} to {result.after}")
    else:
        print(f"database already at {result.after}")
    return 0


def _status(args: Any) -> int:
    from gateway.store import migrate

    url = _database_url(args.config)
    try:
        current = migrate.current_revision(url)
    except GatewayError as exc:
        print(f"{args.config}: database.url: {exc}", file=sys.stderr)
        return 1
    head = migrate.head_revision()
    print(f"database at {current or 'empty (no schema)'}; newest revision {head}")
    return 0 if current == head else 1


def _stats(args: Any) -> int:
    import datetime as dt
    import time

    from gateway.store import Store

    url = _database_url(args.config)
    store = Store(url)
    try:
        st = store.stats()
    except GatewayError as exc:
        print(f"{args.config}: database.url: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{st.dialect} database, bytes by {st.method}")
    print(f"{'table':<20} {'rows':>12} {'bytes':>15}")
    for tbl in st.tables:
        size = "-" if tbl.bytes is None else f"{tbl.bytes:,}"
        print(f"{tbl.name:<20} {tbl.rows:>12,} {size:>15}")
    free = "" if st.free_bytes is None else f" ({st.free_bytes:,} of them in free pages, reused before it grows)"
    print(f"{'database':<20} {'':>12} {st.database_bytes:>15,}{free}")
    if st.oldest is None:
        print("unfinished deliveries: 0")
    else:
        o = st.oldest
        since = dt.datetime.fromtimestamp(o.created_us / 1e6, dt.timezone.utc).isoformat(timespec="seconds")
        age_s = max(0, time.time() - o.created_us / 1e6)
        print(f"unfinished deliveries: {st.unfinished:,}; oldest: message {o.message_id} to {o.recipient} "
              f"(route {o.route}), {o.state}, since {since} ({age_s / 3600:.1f} h), {o.attempts} attempt(s)")
    return 0
