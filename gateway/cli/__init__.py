"""The ``gateway`` command. Each command group lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import sys

from gateway.errors import ConfigError

# Which module registers each command: `gateway serve` then imports only what serving needs, which is a
# measurable part of node start-up (docs/performance.md). tests/unit/test_cli_commands.py keeps this in step.
COMMAND_OWNERS = {
    "serve": "gateway.cli.node_cmd", "config": "gateway.cli.node_cmd", "health": "gateway.cli.node_cmd",
    "submit": "gateway.cli.exchange_cmd", "receive": "gateway.cli.exchange_cmd", "status": "gateway.cli.exchange_cmd",
    "token": "gateway.cli.token_cmd", "pki": "gateway.cli.pki_cmd", "convert": "gateway.cli.convert_cmd",
    "audit": "gateway.cli.audit_cmd", "evidence": "gateway.cli.evidence_cmd", "kpi": "gateway.cli.kpi_cmd",
    "deliveries": "gateway.cli.federation_cmd", "assist": "gateway.cli.federation_cmd",
    "db": "gateway.cli.db_cmd", "directory": "gateway.cli.directory_cmd",
}
# Command modules, in the order `gateway --help` lists them.
COMMAND_MODULES = list(dict.fromkeys(COMMAND_OWNERS.values()))


def build_parser(modules: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Single Window data exchange gateway for cross-border e-commerce.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in modules or COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    owner = COMMAND_OWNERS.get(words[0]) if words else None
    parser = build_parser([owner] if owner else None)
    args = parser.parse_args(words)
    try:
        code = args.func(args)
    except ConfigError as exc:
        # Every command reports configuration problems the same way: one line per key, exit 2.
        where = getattr(args, "config", None) or getattr(args, "file", None) or "configuration"
        for problem in exc.problems:
            print(f"{where}: {problem}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
