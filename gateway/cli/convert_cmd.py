"""``gateway convert``: run the adapters offline, without a node.

    gateway convert --from upu.ips.v1 --to upu.itmatt.v1 export.xml -o itmatt.xml
    gateway convert --from upu.itmatt.v1 --to swg.aed.v1+json items.xml      # canonical JSON on stdout
    gateway convert --list                                                     # formats and document types

Exit status: 0 converted; 2 bad input (every violation printed to stderr as ``path: reason``), unknown
format or a conversion between formats of different document types; 1 the file cannot be read or written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters import registry
from adapters.errors import DocumentError, UnknownFormat, UnsupportedConversion

EXIT_BAD_INPUT = 2
EXIT_IO = 1


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
    p.set_defaults(func=run)


def _list() -> int:
    for name in registry.known_formats():
        print(f"{name}\t{registry.get(name).document_type}")
    return 0


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
        content = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"gateway convert: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    try:
        document_type, msg = registry.decode(source.name, content)
        out = registry.encode(target.name, document_type, msg)
    except DocumentError as exc:
        print(f"gateway convert: {args.file}: {exc.summary} ({len(exc.violations)} problems)", file=sys.stderr)
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
