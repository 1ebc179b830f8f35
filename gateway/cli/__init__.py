"""The ``gateway`` command. Each command group lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from gateway.errors import ConfigError

# Which module registers each command: `gateway serve` then imports only what serving needs, which is a
# measurable part of node start-up (docs/performance.md). tests/unit/test_cli_commands.py keeps this in step.
COMMAND_OWNERS = {
    "serve": "gateway.cli.node_cmd", "config": "gateway.cli.node_cmd", "health": "gateway.cli.node_cmd",
    "submit": "gateway.cli.exchange_cmd", "receive": "gateway.cli.exchange_cmd", "status": "gateway.cli.exchange_cmd",
    "item": "gateway.cli.item_cmd",
    "token": "gateway.cli.token_cmd", "pki": "gateway.cli.pki_cmd", "convert": "gateway.cli.convert_cmd",
    "audit": "gateway.cli.audit_cmd", "archive": "gateway.cli.archive_cmd", "evidence": "gateway.cli.evidence_cmd", "kpi": "gateway.cli.kpi_cmd",
    "deliveries": "gateway.cli.federation_cmd", "assist": "gateway.cli.federation_cmd",
    "db": "gateway.cli.db_cmd", "directory": "gateway.cli.directory_cmd",
    "console": "gateway.cli.console_cmd",
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
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        # Every command reports configuration problems the same way: one line per key, exit 2.
        where = (getattr(args, "config", None) or getattr(args, "client", None) or getattr(args, "file", None)
                 or "configuration")
        for problem in exc.problems:
            text = str(problem)
            # A problem that already names its file (or another) is printed as it is.
            print(text if text.startswith(("/", str(where))) else f"{where}: {text}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A missing or unreadable file, a busy port: one line naming it, never a traceback.
        what = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"gateway {args.command}: {what}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the command line shows one line; GATEWAY_DEBUG=1 shows the trace
        if os.environ.get("GATEWAY_DEBUG"):
            raise
        if type(exc).__module__.startswith("grpc"):
            from gateway.cli._common import fail

            return fail(exc)  # type: ignore[arg-type]  # a grpc.RpcError raised outside a command's own handler
        print(f"gateway {args.command}: {type(exc).__name__}: {exc} (GATEWAY_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
