"""`gateway console`: the operator web console (docs/console.md), and `gateway console user add`."""

from __future__ import annotations

import getpass
import secrets
import sys
from pathlib import Path
from typing import Any

from gateway.cli._common import load_profile

DEFAULT_USERS = "console-users.toml"


def register(sub: Any) -> None:
    c = sub.add_parser("console", help="operator web console: a client of the node's Admin API")
    c.add_argument("--client", metavar="FILE", help="client profile TOML with the admin scope")
    c.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    c.add_argument("--users", default=DEFAULT_USERS, metavar="FILE", help=f"users file (default {DEFAULT_USERS})")
    c.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (and --tls-key)")
    c.add_argument("--tls-key", metavar="FILE")
    c.add_argument("--session-key-file", metavar="FILE",
                   help="secret that signs session cookies (default: a fresh one per start, signing everyone out)")
    c.set_defaults(func=_console)
    csub = c.add_subparsers(dest="console_command")
    u = csub.add_parser("user", help="console users").add_subparsers(dest="user_command", required=True)
    a = u.add_parser("add", help="add a user or set a user's password and role (password from prompt or stdin)")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=("viewer", "operator", "auditor"))
    a.add_argument("--users", default=DEFAULT_USERS, metavar="FILE")
    a.set_defaults(func=_user_add)


def _user_add(args: Any) -> int:
    from gateway.console import Users
    from gateway.console.users import NAME_RE
    # Whatever is wrong with the name or the file is said before anyone types a password for it.
    if not NAME_RE.match(args.name):
        print(f"gateway console: user name {args.name!r}: letters, digits, '.', '_', '-' (at most 64)",
              file=sys.stderr)
        return 2
    folder = Path(args.users).parent
    if not folder.is_dir():
        print(f"gateway console: users file {args.users}: folder {folder} does not exist", file=sys.stderr)
        return 2
    users = Users.load(args.users, missing_ok=True)
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    user = users.add(args.name, args.role, password)
    print(f"{user.name} ({user.role}) written to {args.users}")
    return 0


def _console(args: Any) -> int:
    import uvicorn

    from gateway.console import NodeApi, Users, create_app
    from gateway.telemetry.logs import configure_logging
    if not args.client:
        print("gateway console: --client PROFILE is required", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("gateway console: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    configure_logging("info")  # JSON lines: each console action with the operator's name
    profile = load_profile(args.client)
    users = Users.load(args.users)
    if not users.users:
        print(f"gateway console: no users in {args.users}; add one with `gateway console user add`", file=sys.stderr)
        return 2
    key = Path(args.session_key_file).read_text().strip() if args.session_key_file else secrets.token_urlsafe(48)
    host, _, port = args.listen.rpartition(":")
    api = NodeApi(profile)
    app = create_app(api, users, secret_key=key, tls=bool(args.tls_cert))
    scheme = "https" if args.tls_cert else "http"
    print(f"console for {profile.address} on {scheme}://{host}:{port}/", flush=True)
    try:
        uvicorn.run(app, host=host or "127.0.0.1", port=int(port), log_level="warning",
                    ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key, server_header=False)
    finally:
        api.close()
    return 0
