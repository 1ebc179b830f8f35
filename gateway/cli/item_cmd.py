"""`gateway item S10…`: what happened to postal items, as far as the caller's messages tell."""

from __future__ import annotations

import sys
from typing import Any

import grpc
from google.protobuf import json_format

from gateway.api.swg.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.cli._common import add_client_arg, connect, explain, when


def register(sub: Any) -> None:
    p = sub.add_parser("item", help="timeline of postal items by S10 id: AED, receipts, customs decisions, "
                                    "revenue notices, assistance requests, tracking events")
    add_client_arg(p)
    p.add_argument("item_ids", nargs="+", metavar="S10", help="S10 item id, e.g. RR123456785DE")
    p.add_argument("--json", action="store_true", help="print the TrackItems response as JSON")
    p.set_defaults(func=_item)


def _kind(kind: int) -> str:
    return exchange_pb2.ItemEventKind.Name(kind).removeprefix("ITEM_EVENT_KIND_").lower()


def _line(e: exchange_pb2.ItemEvent) -> str:
    at = when(e.at.seconds + e.at.nanos / 1e9)
    kind = _kind(e.kind)
    if kind in ("delivered", "acknowledged"):
        what = f"{kind} by {', '.join(e.recipients)}  ({e.message_id})"
    elif kind in ("arrived", "departed"):
        what = f"{kind}  (tracking event in {e.message_id})"
    else:
        to = f" → {', '.join(e.recipients)}" if e.recipients else ""
        outcome = f" {e.outcome}" if e.outcome else ""
        what = f"{kind}{outcome}  {e.document_type} {e.message_id} from {e.sender}{to}"
    return f"  {at:<22} {what}"


def _item(args: Any) -> int:
    _, channel, tokens = connect(args.client)
    try:
        resp = exchange_pb2_grpc.ExchangeStub(channel).TrackItems(
            exchange_pb2.TrackItemsRequest(item_ids=args.item_ids), metadata=tokens.metadata())
    except grpc.RpcError as err:
        print(explain(err), file=sys.stderr)
        return 2
    finally:
        channel.close()
    missing = [i for i in resp.items if i.HasField("error")]
    if args.json:
        print(json_format.MessageToJson(resp, indent=2))
    else:
        for i in resp.items:
            if i.HasField("error"):
                continue
            print(f"item {i.item_id}")
            for e in i.events:
                print(_line(e))
    for i in missing:
        print(f"gateway item: {i.item_id}: {i.error.message}", file=sys.stderr)
    return 2 if missing else 0
