"""`gateway db upgrade` and `gateway db status`: the node database's schema revision."""

from __future__ import annotations

import sys
from typing import Any

from gateway.errors import GatewayError


def register(sub: Any) -> None:
    d = sub.add_parser("db", help="node database: schema migrations")
    dsub = d.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="apply schema migrations up to the newest revision (safe to repeat, "
                                          "safe to run from several replicas at once)")
    up.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    up.set_defaults(func=_upgrade)
    st = dsub.add_parser("status", help="print the database's revision and the newest one this version knows")
    st.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    st.set_defaults(func=_status)


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
