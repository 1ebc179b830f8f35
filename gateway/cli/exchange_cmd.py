"""`gateway submit`, `gateway receive`, `gateway status`: a participant's side of the Exchange service."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf import json_format

from gateway.api.swg.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.cli._common import Progress, add_client_arg, connect, explain, fail, plural

EXTENSIONS = {".xml", ".json", ".pb", ".bin"}


# The node pushes waiting deliveries at once; this long without one means nothing is waiting for us.
IDLE_S = 3.0


def register(sub: Any) -> None:
    s = sub.add_parser("submit", help="submit documents (files or a folder); prints one message id per document")
    add_client_arg(s)
    s.add_argument("--format", required=True, help="format of the files, e.g. upu.itmatt.v1, swg.aed.v1")
    s.add_argument("--to", action="append", default=[], metavar="PARTICIPANT", help="explicit recipient (repeat)")
    s.add_argument("--message-id", help="the message id (single file only); default: derived from the sender and "
                                        "the file's content, so a rerun is answered as duplicates")
    s.add_argument("--new-ids", action="store_true",
                   help="let the node give new ids: the same file sent again is a new message")
    s.add_argument("--all-or-nothing", action="store_true",
                   help="refuse a whole document when any of its items is bad (default: accept the good items)")
    s.add_argument("--conversation-id", default="")
    s.add_argument("--in-reply-to", default="")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.set_defaults(func=_submit)

    r = sub.add_parser("receive", help="receive deliveries, print or write them, acknowledge each")
    add_client_arg(r)
    r.add_argument("--format", default="", help="format to receive in (default: the directory's preference)")
    r.add_argument("--out", metavar="DIR", help="write each document to DIR/<message_id>.<ext> with a .json sidecar")
    r.add_argument("--count", type=int, default=0, help="stop after N deliveries")
    r.add_argument("--follow", action="store_true",
                   help="keep waiting for new deliveries until Ctrl-C (default: stop once the queue is empty)")
    r.add_argument("--timeout", type=float, default=None,
                   help=f"seconds without a delivery that count as an empty queue (default {IDLE_S:g}; "
                        "with --follow: wait for ever)")
    r.add_argument("--no-ack", action="store_true", help="do not acknowledge (deliveries come again)")
    r.set_defaults(func=_receive)

    st = sub.add_parser("status", help="per-recipient state of a message you sent, with receipts")
    add_client_arg(st)
    st.add_argument("message_id")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file or folder", str(p))
    return out


def content_message_id(participant: str, fmt: str, content: bytes) -> str:
    """The default message id of a submitted file: the same file from the same sender is the same message, so a
    rerun of `gateway submit DIR` is answered as duplicates instead of sending everything again."""
    digest = hashlib.sha256(f"{participant}\n{fmt}\n".encode() + content).hexdigest()
    return f"sha256-{digest[:40]}"


def _submit(args: Any) -> int:
    files = _files(args.paths)
    if args.message_id and len(files) != 1:
        print("--message-id needs exactly one file", file=sys.stderr)
        return 2
    profile, channel, tokens = connect(args.client)
    stub = exchange_pb2_grpc.ExchangeStub(channel)
    counts = {"accepted": 0, "duplicate": 0, "refused": 0, "warnings": 0, "items": 0, "items refused": 0}
    progress = Progress(len(files), "submitting") if len(files) > 1 else None

    def message_id(content: bytes) -> str:
        if args.message_id:
            return str(args.message_id)
        return "" if args.new_ids else content_message_id(profile.participant, args.format, content)

    def requests() -> Iterator[exchange_pb2.SubmitRequest]:
        for f in files:
            content = f.read_bytes()
            yield exchange_pb2.SubmitRequest(
                message_id=message_id(content), format=args.format, content=content, recipients=args.to,
                conversation_id=args.conversation_id, in_reply_to=args.in_reply_to,
                all_or_nothing=args.all_or_nothing)

    def accepted(f: Path, resp: Any) -> None:
        counts["duplicate" if resp.duplicate else "accepted"] += 1
        for w in resp.warnings:  # accepted as it is, but worth a look
            counts["warnings"] += 1
            print(f"warning\t{f}\t{printable(w.field, 200)}: {printable(w.description, 200)}", file=sys.stderr)
        routes: dict[str, list[Any]] = {}
        for o in resp.items:
            counts["items"] += 1
            if not o.accepted:  # the rest of the document was accepted; this item was not
                counts["items refused"] += 1
                for v in o.violations:
                    print(f"REFUSED ITEM\t{f}\t{printable(o.item_id or o.path, 64)}\t{printable(v.field, 200)}: "
                          f"{printable(v.description, 200)}", file=sys.stderr)
            elif o.message_id != resp.message_id:
                routes.setdefault(o.message_id, []).append(o)
        print(f"{resp.message_id}\t{f}\t{','.join(resp.recipients)}" + ("\t(duplicate)" if resp.duplicate else ""))
        for part, items in routes.items():  # a document split per destination: one message per route
            print(f"  {part}\t{','.join(items[0].recipients)}\t{plural(len(items), 'item', 'items')}", file=sys.stderr)

    try:
        if len(files) == 1:
            accepted(files[0], stub.Submit(next(requests()), metadata=tokens.metadata()))
            return 1 if counts["items refused"] else 0
        for f, resp in zip(files, stub.SubmitStream(requests(), metadata=tokens.metadata())):
            if progress:
                progress.step()
            if resp.HasField("error"):
                counts["refused"] += 1
                print(f"\nREFUSED\t{f}\t{resp.error.message}", file=sys.stderr)
            else:
                accepted(f, resp)
    except grpc.RpcError as err:
        return fail(err)
    finally:
        if progress:
            progress.close()
        channel.close()
    print(f"{plural(len(files), 'file', 'files')}: {counts['accepted']} accepted, {counts['duplicate']} duplicate "
          f"(sent before), {counts['refused']} refused"
          + (f"; {plural(counts['warnings'], 'warning', 'warnings')}" if counts["warnings"] else "")
          + (f"; {plural(counts['items'], 'item', 'items')}, {counts['items refused']} refused" if counts["items refused"] else ""),
          file=sys.stderr)
    return 1 if counts["refused"] or counts["items refused"] else 0


def _receive(args: Any) -> int:
    _, channel, tokens = connect(args.client)
    stub = exchange_pb2_grpc.ExchangeStub(channel)
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    received = 0
    idle_s = args.timeout if args.timeout is not None else (0.0 if args.follow else IDLE_S)
    kwargs: dict[str, Any] = {"metadata": tokens.metadata()}
    stream = stub.Receive(exchange_pb2.ReceiveRequest(format=args.format), **kwargs)
    try:
        while True:
            try:
                delivery = _next_with_timeout(stream, idle_s)
            except StopIteration:
                break
            received += 1
            meta = {"message_id": delivery.message_id, "conversation_id": delivery.conversation_id,
                    "in_reply_to": delivery.in_reply_to, "sender": delivery.sender,
                    "document_type": delivery.document_type, "format": delivery.format, "attempt": delivery.attempt,
                    "envelope_sha256": delivery.envelope_sha256.hex()}
            stem = file_stem(delivery.message_id)
            if out:
                try:
                    _write_inside(out, stem + _extension(delivery.format), delivery.content)
                    _write_inside(out, stem + ".meta.json", json.dumps(meta, indent=2).encode())
                except OSError as err:
                    # Not acknowledged, so the node keeps it for the next run; the others still come.
                    print(f"cannot write {printable(delivery.message_id)}: {err.strerror or err}", file=sys.stderr)
                    continue
                print("\t".join(printable(v) for v in (delivery.message_id, delivery.sender,
                                                       delivery.document_type, delivery.format)))
            else:
                print(json.dumps(meta))
                print(delivery.content.decode("utf-8", "replace") if _extension(delivery.format) != ".pb"
                      else f"<{len(delivery.content)} bytes of {delivery.format} protobuf>")
            if not args.no_ack:
                ack = stub.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[delivery.message_id]),
                                       metadata=tokens.metadata())
                if out and ack.receipts:
                    try:
                        _write_inside(out, stem + ".receipt.jws", (ack.receipts[0].jws + "\n").encode())
                    except OSError as err:
                        print(f"cannot write the receipt of {printable(delivery.message_id)}: {err.strerror or err}",
                              file=sys.stderr)
            if args.count and received >= args.count:
                break
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.CANCELLED:
            return fail(err)
    except KeyboardInterrupt:
        pass
    finally:
        stream.cancel()
        channel.close()
    print(f"received {plural(received, 'delivery', 'deliveries')}" if received else "no deliveries waiting",
          file=sys.stderr)
    return 0


_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


def file_stem(message_id: str) -> str:
    """A file name for a delivery that no message id can steer: the id itself only when it is a plain short
    token; otherwise a fixed-length digest (the id is kept in the `.meta.json` sidecar)."""
    if _SAFE_STEM.fullmatch(message_id):
        return message_id
    return "msg-" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def printable(value: str, limit: int = 120) -> str:
    """A value from the network shown on one terminal line: control characters escaped, length bounded."""
    shown = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _write_inside(folder: Path, name: str, data: bytes) -> None:
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise OSError(f"refusing to write outside {folder}")
    target.write_bytes(data)


def _extension(fmt: str) -> str:
    """File extension for a delivery written to disk: XML formats, JSON formats, else binary protobuf."""
    from adapters import registry

    media = registry.get(fmt).media_type
    return ".xml" if media.endswith("xml") else ".json" if media.endswith("json") else ".pb"


def _next_with_timeout(stream: Any, timeout: float) -> Any:
    if not timeout:
        return next(stream)
    import queue
    import threading

    box: queue.Queue[Any] = queue.Queue()

    def pull() -> None:
        try:
            box.put(("ok", next(stream)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box.put(("err", exc))

    threading.Thread(target=pull, daemon=True).start()
    try:
        kind, value = box.get(timeout=timeout)
    except queue.Empty:
        raise StopIteration from None
    if kind == "err":
        raise value
    return value


def _status(args: Any) -> int:
    _, channel, tokens = connect(args.client)
    try:
        resp = exchange_pb2_grpc.ExchangeStub(channel).GetStatus(
            exchange_pb2.GetStatusRequest(message_id=args.message_id), metadata=tokens.metadata())
    except grpc.RpcError as err:
        print(explain(err), file=sys.stderr)
        return 1
    finally:
        channel.close()
    if args.json:
        print(json_format.MessageToJson(resp, indent=2))
        return 0
    print(f"message {resp.message_id} ({resp.document_type}) from {resp.sender}, conversation {resp.conversation_id}")
    for r in resp.recipients:
        state = exchange_pb2.DeliveryState.Name(r.state).removeprefix("DELIVERY_STATE_")
        extra = f" — {r.last_error}" if r.last_error else ""
        print(f"  {r.recipient:<20} {state:<13} attempts={r.attempts} receipts={len(r.receipts)}{extra}")
    return 0
