"""`gateway evidence verify | export | verify-bundle`: evidence a third party checks with the CA certificate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gateway.cli._common import when
from gateway.errors import ConfigError, GatewayError


def register(sub: Any) -> None:
    e = sub.add_parser("evidence", help="receipts, envelopes and evidence bundles, verified offline")
    esub = e.add_subparsers(dest="evidence_command", required=True)
    v = esub.add_parser("verify", help="verify a receipt (JWS), an audit checkpoint (JWS) or a sealed envelope "
                                       "(binary) against the federation CA")
    v.add_argument("file")
    v.add_argument("--ca", required=True, metavar="CA.crt")
    v.add_argument("--crl", metavar="CRL.pem", help="the federation's current CRL (recommended)")
    v.add_argument("--directory", metavar="federation.toml", help=_DIRECTORY_HELP)
    v.set_defaults(func=_verify)

    x = esub.add_parser("export", help="export the evidence bundle of one message from a node's database")
    x.add_argument("message_id")
    x.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    x.add_argument("-o", "--output", required=True, metavar="BUNDLE.zip")
    x.set_defaults(func=_export)

    b = esub.add_parser("verify-bundle", help="verify an evidence bundle with only the CA certificate")
    b.add_argument("bundle")
    b.add_argument("--ca", required=True, metavar="CA.crt")
    b.add_argument("--crl", metavar="CRL.pem")
    b.add_argument("--directory", metavar="federation.toml", help=_DIRECTORY_HELP)
    b.set_defaults(func=_verify_bundle)


_DIRECTORY_HELP = ("the CA-signed directory (with its .jws beside it) that binds the participants' ML-DSA-65 keys: "
                   "needed for hybrid-pq envelopes and receipts")


def _pq_keys(args: Any, trust: Any) -> Any:
    """The ML-DSA-65 keys a CA-signed directory binds (hybrid-pq), or none without --directory."""
    from gateway import envelope
    from gateway.federation import signature as directory_signature
    from gateway.federation.parse import parse_directory_bytes
    from gateway.federation.view import DirectoryPqKeys

    if not args.directory:
        return envelope.NO_PQ_KEYS
    path = Path(args.directory).resolve()
    data = path.read_bytes()
    directory_signature.verify(data, directory_signature.signature_path(path).read_text(), trust)
    return DirectoryPqKeys(parse_directory_bytes(data, path))


def _trust(args: Any) -> Any:
    from gateway.crypto.trust import TrustStore

    return TrustStore.from_files(args.ca, args.crl)


def _verify(args: Any) -> int:
    from gateway.evidence.bundle import EvidenceInvalid, verify_file

    data = Path(args.file).read_bytes()  # a missing file is one line from gateway.cli.main, exit 2
    trust = _trust(args)
    try:
        rep = verify_file(data, trust, _pq_keys(args, trust))
    except (EvidenceInvalid, GatewayError, ConfigError, OSError, ValueError) as exc:
        print(f"INVALID: {exc}")
        return 1
    print(f"VALID {rep.kind}")
    for line in rep.lines:
        print(f"  {line}")
    return 0


def _export(args: Any) -> int:
    from gateway.evidence import auditor
    from gateway.config import load_node_config
    from gateway.store import Store

    cfg = load_node_config(args.config)
    store = Store(cfg.database_url)
    try:
        bundle = auditor.export_evidence(store, args.message_id, auditor.checkpoint_signer(cfg), cfg.name)
    except GatewayError as exc:
        print(f"{exc.grpc_code}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    Path(args.output).write_bytes(bundle)
    print(f"wrote {args.output} ({len(bundle)} bytes)")
    return 0


def _verify_bundle(args: Any) -> int:
    from gateway.evidence.bundle import EvidenceInvalid, verify_bundle

    data = Path(args.bundle).read_bytes()  # a missing file is one line from gateway.cli.main, exit 2
    trust = _trust(args)
    try:
        rep = verify_bundle(data, trust, _pq_keys(args, trust))
    except (EvidenceInvalid, GatewayError, ConfigError, OSError, ValueError) as exc:
        print(f"INVALID: {exc}")
        return 1
    print(f"VALID evidence of message {rep.message_id} ({rep.document_type})")
    print(f"  envelope signed by {rep.sender} to {', '.join(rep.recipients)}; sha256 {rep.envelope_sha256.hex()}")
    for r in rep.receipts:
        print(f"  receipt: {r.recipient} at {r.received_at.ToJsonString()} (node {r.issuing_node})")
    for seq, at_us, event, actor, subject in rep.events:
        print(f"  audit entry {seq}: {event} {actor} {subject}".rstrip() + f" at {when(at_us / 1e6)}")
    if rep.checkpoint is not None:
        print(f"  covered by checkpoint {rep.checkpoint.seq} signed by node {rep.node}")
    return 0
