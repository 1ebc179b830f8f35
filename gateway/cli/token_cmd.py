"""`gateway token issue`: certificate-bound bearer tokens for the demo and tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gateway.crypto.keys import Signer
from gateway.crypto.tokens import SCOPES, issue_token
from gateway.config import load_node_config


def register(sub: Any) -> None:
    t = sub.add_parser("token", help="bearer tokens")
    tsub = t.add_subparsers(dest="token_command", required=True)
    i = tsub.add_parser("issue", help="issue a token bound to a client certificate (demo issuer)")
    i.add_argument("--config", required=True, metavar="FILE", help="node config naming the token issuer key")
    i.add_argument("--participant", required=True)
    i.add_argument("--scope", action="append", choices=SCOPES, required=True, help="repeat for several scopes")
    i.add_argument("--cert", required=True, metavar="FILE", help="the client certificate the token is bound to")
    i.add_argument("--lifetime", type=int, default=600, metavar="SECONDS")
    i.add_argument("-o", "--output", metavar="FILE")
    i.set_defaults(func=_issue)


def _issue(args: Any) -> int:
    cfg = load_node_config(args.config)
    if cfg.tokens.signing_key is None:
        print(f"{args.config}: tokens.signing_key: needed to issue tokens", file=sys.stderr)
        return 2
    if args.lifetime > cfg.tokens.max_lifetime_s:
        print(f"--lifetime exceeds tokens.max_lifetime_s ({cfg.tokens.max_lifetime_s})", file=sys.stderr)
        return 2
    # A PEM file or a pkcs11: URI, checked against the token certificate before it signs anything.
    signer = Signer.from_files(cfg.tokens.signing_key, cfg.tokens.signing_certificate, cfg.pkcs11).key
    token = issue_token(signer=signer, issuer=cfg.tokens.issuer,
                        audience=cfg.tokens.audience, participant=args.participant, scopes=args.scope,
                        client_cert_pem=Path(args.cert).read_bytes(), lifetime_s=args.lifetime)
    if args.output:
        Path(args.output).write_text(token + "\n")
    else:
        print(token)
    return 0
