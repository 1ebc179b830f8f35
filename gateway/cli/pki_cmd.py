"""``gateway pki``: make a demo federation PKI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.crypto import pki
from gateway.crypto.pkcs11 import Pkcs11Options
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
    init.add_argument("--pkcs11", metavar="URI",
                      help="generate participant signing keys inside this PKCS#11 token (RFC 7512 URI naming the "
                           "token, e.g. 'pkcs11:token=swg?module-path=/usr/lib/softhsm/libsofthsm2.so"
                           "&pin-source=file:/etc/swg/pin'); the keys are not extractable, only certificates and "
                           "<key>.uri files are written")
    init.add_argument("--pkcs11-participant", action="append", dest="pkcs11_participants", metavar="ID",
                      help="only this participant's signing key goes into the token (repeatable; default: all)")
    init.add_argument("--pkcs11-node-keys", action="store_true",
                      help="also generate the node token-issuer/checkpoint keys inside the token")
    init.add_argument("--pkcs11-label-prefix", metavar="TEXT", default="",
                      help="put before every key label (several federations or environments sharing one token)")
    init.add_argument("--pkcs11-module", metavar="FILE", help="PKCS#11 module when the URI has no module-path")
    init.add_argument("--pkcs11-pin-file", metavar="FILE", type=Path,
                      help="file holding the user PIN when the URI has no pin-source")
    init.add_argument("--pkcs11-pin-env", metavar="NAME",
                      help="environment variable holding the user PIN when the URI has no pin-source")
    init.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    if args.days <= 0:
        print("error: --days must be positive", file=sys.stderr)
        return 2
    try:
        hsm = None
        if args.pkcs11:
            hsm = pki.Pkcs11Keys(
                args.pkcs11,
                Pkcs11Options(module=args.pkcs11_module, pin_file=args.pkcs11_pin_file, pin_env=args.pkcs11_pin_env),
                participants=frozenset(args.pkcs11_participants) if args.pkcs11_participants else None,
                node_token_keys=args.pkcs11_node_keys, label_prefix=args.pkcs11_label_prefix)
        paths = pki.generate_federation(
            args.out,
            nodes=tuple(args.nodes or pki.DEFAULT_NODES),
            participants=tuple(args.participants or pki.DEFAULT_PARTICIPANTS),
            signing_algorithm=args.signing_algorithm,
            days=args.days,
            force=args.force,
            progress=lambda line: print(line, flush=True),
            pkcs11=hsm,
        )
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done: {len(paths.nodes)} nodes, {len(paths.participants)} participants in {paths.root} (DEMO ONLY)")
    return 0
