"""``gateway convert``: run the adapters offline, without a node.

    gateway convert --from upu.ips.v1 --to upu.itmatt.v1 export.xml -o itmatt.xml
    gateway convert --from upu.itmatt.v1 --to swg.aed.v1+json items.xml      # canonical JSON on stdout
    gateway convert --list                                                     # formats and document types

Exit status: 0 converted; 2 bad input (every violation printed to stderr as ``path: reason``), unknown
format, a FILE that cannot be read, or a conversion between formats of different document types; 1 the output
cannot be written.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from adapters import registry
from adapters.errors import DocumentError, UnknownFormat, UnsupportedConversion

EXIT_BAD_INPUT = 2
EXIT_IO = 1
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_COUNTED = re.compile(r"\s*\(\d+ problems?\)$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "convert",
        help="convert a document between formats offline (no node needed)",
        description="Decode FILE in format --from (validating it), encode it in format --to.",
    )
    p.add_argument("--from", dest="source_format", metavar="FORMAT", help="format of FILE, e.g. upu.itmatt.v1")
    p.add_argument("--to", dest="target_format", metavar="FORMAT", help="format to write, e.g. wco.ecommerce.v1")
    p.add_argument("file", nargs="?", metavar="FILE", help="input file; - for standard input")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (default: standard output)")
    p.add_argument("--list", action="store_true", help="list the known formats and the document type of each")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                   help=f"refuse a larger FILE (default {DEFAULT_MAX_BYTES}, a node's default limits.max_message_bytes)")
    p.set_defaults(func=run)


def _list() -> int:
    for name in registry.known_formats():
        print(f"{name}\t{registry.get(name).document_type}")
    return 0


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        return f.read(limit + 1)


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not (args.source_format and args.target_format and args.file):
        print("gateway convert: --from, --to and FILE are required (or --list)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        source = registry.get(args.source_format)
        target = registry.get(args.target_format)
    except UnknownFormat as exc:
        print(f"gateway convert: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if source.document_type != target.document_type:
        print(f"gateway convert: {source.name} carries {source.document_type} but {target.name} carries "
              f"{target.document_type}; choose formats of the same document type", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        content = sys.stdin.buffer.read(args.max_bytes + 1) if args.file == "-" else _read(Path(args.file), args.max_bytes)
    except OSError as exc:
        print(f"gateway convert: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if len(content) > args.max_bytes:
        print(f"gateway convert: {args.file}: larger than --max-bytes {args.max_bytes}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        document_type, msg, warnings = registry.decode_with_warnings(source.name, content)
        for warning in warnings:
            print(f"warning: {warning.path}: {warning.reason}", file=sys.stderr)
        out = registry.encode(target.name, document_type, msg)
    except DocumentError as exc:
        count = len(exc.violations)
        print(f"gateway convert: {args.file}: {_COUNTED.sub('', exc.summary)} "
              f"({count} problem{'' if count == 1 else 's'})", file=sys.stderr)
        for violation in exc.violations:
            print(f"{violation.path}: {violation.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnsupportedConversion as exc:
        print(f"gateway convert: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.output:
        try:
            Path(args.output).write_bytes(out)
        except OSError as exc:
            print(f"gateway convert: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_IO
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    return 0
