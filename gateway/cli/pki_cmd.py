"""``gateway pki``: make a demo federation PKI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.crypto import pki
from gateway.errors import GatewayError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("pki", help="federation PKI (demo CA, node and participant keys)")
    commands = group.add_subparsers(dest="pki_command", metavar="PKI_COMMAND", required=True)
    init = commands.add_parser(
        "init",
        help="generate a demo federation PKI (DEMO ONLY: private keys are unencrypted)",
        description="Generate a federation root CA, CRL, node and participant keys and certificates.",
    )
    init.add_argument("--out", required=True, type=Path, help="directory to create")
    init.add_argument("--node", action="append", dest="nodes", metavar="NAME",
                      help=f"node name (repeatable; default: {' '.join(pki.DEFAULT_NODES)})")
    init.add_argument("--participant", action="append", dest="participants", metavar="ID",
                      help=f"participant id CC/ROLE/CODE (repeatable; default: {' '.join(pki.DEFAULT_PARTICIPANTS)})")
    init.add_argument("--signing-algorithm", choices=pki.SIGNING_ALGORITHMS, default="ecdsa-p256",
                      help="participant signing key algorithm (default: ecdsa-p256)")
    init.add_argument("--days", type=int, default=3650, help="validity of every certificate (default: 3650)")
    init.add_argument("--force", action="store_true", help="replace an existing non-empty --out directory")
    init.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    if args.days <= 0:
        print("error: --days must be positive", file=sys.stderr)
        return 2
    try:
        paths = pki.generate_federation(
            args.out,
            nodes=tuple(args.nodes or pki.DEFAULT_NODES),
            participants=tuple(args.participants or pki.DEFAULT_PARTICIPANTS),
            signing_algorithm=args.signing_algorithm,
            days=args.days,
            force=args.force,
            progress=lambda line: print(line, flush=True),
        )
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done: {len(paths.nodes)} nodes, {len(paths.participants)} participants in {paths.root} (DEMO ONLY)")
    return 0
