"""`gateway directory pin|sign|show`: the federation directory and the CA's signature over it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    d = sub.add_parser("directory", help="federation directory: pin certificates, sign, show")
    dsub = d.add_subparsers(dest="directory_command", required=True)

    pin = dsub.add_parser("pin", help="write the SHA-256 pin after every certificate path (in place)")
    pin.add_argument("file", type=Path)
    pin.set_defaults(func=_pin)

    sign = dsub.add_parser("sign", help="sign the directory file with the federation CA (detached JWS)")
    sign.add_argument("file", type=Path)
    sign.add_argument("--ca-key", required=True, type=Path)
    sign.add_argument("--ca-cert", required=True, type=Path)
    sign.add_argument("-o", "--out", type=Path, help="signature file (default: FILE.jws)")
    sign.set_defaults(func=_sign)

    show = dsub.add_parser("show", help="version, nodes, participants, routes, agreements, signature status")
    show.add_argument("file", type=Path, nargs="?", help="directory file (with --ca)")
    show.add_argument("--ca", type=Path, help="federation CA certificate to check the signature against")
    show.add_argument("--signature", type=Path, help="signature file (default: FILE.jws)")
    show.add_argument("--config", type=Path, help="node config: its directory, signature and CA")
    show.set_defaults(func=_show)


def _pin(args: Any) -> int:
    from gateway.federation import signature as directory_signature
    from gateway.errors import GatewayError

    try:
        text = directory_signature.pin_certificates(args.file.read_text(), args.file.resolve().parent)
    except OSError as exc:
        print(f"gateway directory: {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    args.file.write_text(text)
    print(f"{args.file}: certificates pinned; sign it again (`gateway directory sign`)")
    return 0


def _sign(args: Any) -> int:
    from gateway import envelope
    from gateway.federation import signature as directory_signature
    from gateway.federation import parse_directory_bytes

    data = args.file.read_bytes()
    directory = parse_directory_bytes(data, args.file.resolve())
    if directory.unpinned:
        for key in directory.unpinned:
            print(f"{args.file}: {key}: missing; run `gateway directory pin {args.file}` first", file=sys.stderr)
        return 2
    signer = envelope.Signer.from_files(args.ca_key, args.ca_cert)
    out = args.out or directory_signature.signature_path(args.file)
    out.write_text(directory_signature.sign(data, signer) + "\n")
    print(f"{out}: signature of {args.file} v{directory.version} (sha256 {directory.sha256})")
    return 0


def _show(args: Any) -> int:
    from gateway.federation import signature as directory_signature
    from gateway.config import load_node_config
    from gateway.federation import parse_directory_bytes
    from gateway.errors import ConfigError
    from gateway.crypto.trust import TrustStore

    if args.config is not None:
        cfg = load_node_config(args.config)
        file, ca, sig_path = cfg.directory, cfg.tls.ca, cfg.directory_signature
    elif args.file is not None and args.ca is not None:
        file, ca, sig_path = args.file, args.ca, args.signature
    else:
        print("give --config NODE.toml, or FILE --ca CA", file=sys.stderr)
        return 2
    sig_path = sig_path or directory_signature.signature_path(file)
    data = file.read_bytes()
    try:
        d = parse_directory_bytes(data, file.resolve())
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{file}: {problem}", file=sys.stderr)
        return 2
    try:
        directory_signature.verify(data, sig_path.read_text(), TrustStore.from_files(ca))
        status = f"valid (federation CA {ca})"
    except OSError:
        status = f"MISSING ({sig_path})"
    except directory_signature.DirectorySignatureError as exc:
        status = f"INVALID: {exc.message}"
    if d.unpinned:
        status += f"; unpinned certificates: {', '.join(d.unpinned)}"
    print(f"directory {d.name} version {d.version} ({file}, sha256 {d.sha256})")
    print(f"signature: {status}")
    print(f"nodes ({len(d.nodes)}):")
    for n in d.nodes.values():
        print(f"  {n.name} {n.address} tls sha256 {n.tls_certificate_sha256}")
    print(f"participants ({len(d.participants)}):")
    for p in d.participants.values():
        print(f"  {p.id} on {p.node}: {p.name}")
    print(f"routes ({len(d.routes)}):")
    for r in d.routes:
        when = " when " + ", ".join(f"{k}={v}" for k, v in r.when.items()) if r.when else ""
        print(f"  {r.document_type}: {','.join(r.senders)} -> {','.join(r.recipients)}{when}"
              + ("" if r.default else " (access right only)"))
    print(f"agreements ({len(d.agreements)}):")
    for a in d.agreements.values():
        print(f"  {a.reference} ({a.legal_basis}): {' & '.join(a.parties)}")
    return 0 if status.startswith("valid") and not d.unpinned else 1
