"""`gateway deliveries` (dead letters, retries) and `gateway assist` (mutual-assistance cases)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc, assistance_pb2, exchange_pb2, exchange_pb2_grpc
from gateway.cli._common import add_client_arg, connect, fail, plural, when

STATES = {"failed": exchange_pb2.DELIVERY_STATE_FAILED, "expired": exchange_pb2.DELIVERY_STATE_EXPIRED,
          "queued": exchange_pb2.DELIVERY_STATE_QUEUED, "in-flight": exchange_pb2.DELIVERY_STATE_IN_FLIGHT,
          "delivered": exchange_pb2.DELIVERY_STATE_DELIVERED, "acknowledged": exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED}


def register(sub: Any) -> None:
    d = sub.add_parser("deliveries", help="dead-letter listing (FAILED/EXPIRED deliveries) and `retry MESSAGE_ID`")
    add_client_arg(d)
    d.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    d.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    d.add_argument("--failed", action="store_true", help="FAILED deliveries (default with --expired: both)")
    d.add_argument("--expired", action="store_true")
    d.add_argument("--state", action="append", default=[], choices=sorted(STATES))
    d.add_argument("--recipient", default="")
    d.set_defaults(func=_deliveries)

    a = sub.add_parser("assist", help="mutual assistance: request, pending (open cases), answer")
    asub = a.add_subparsers(dest="assist_command", required=True)
    r = asub.add_parser("request", help="send an assistance request from a JSON file (swg.assistance.request.v1)")
    add_client_arg(r)
    r.add_argument("file")
    r.set_defaults(func=_request)
    p = asub.add_parser("pending", help="open requests with deadlines and an overdue flag")
    add_client_arg(p)
    p.add_argument("--all", action="store_true", help="answered ones too")
    p.set_defaults(func=_pending)
    an = asub.add_parser("answer", help="answer a request from a JSON file (swg.assistance.response.v1)")
    add_client_arg(an)
    an.add_argument("--in-reply-to", required=True, metavar="MESSAGE_ID")
    an.add_argument("file")
    an.set_defaults(func=_answer)


def _deliveries(args: Any) -> int:
    _, channel, tokens = connect(args.client, "admin")
    stub = admin_pb2_grpc.AdminStub(channel)
    try:
        if args.action == "retry":
            if not args.message_ids:
                print("retry needs at least one MESSAGE_ID", file=sys.stderr)
                return 2
            resp = stub.RetryDeliveries(admin_pb2.RetryDeliveriesRequest(
                message_ids=args.message_ids, recipient=args.recipient), metadata=tokens.metadata())
            print(f"requeued {plural(resp.requeued, 'delivery', 'deliveries')}")
            return 0
        states = ([STATES[s] for s in args.state] + ([STATES["failed"]] if args.failed else [])
                  + ([STATES["expired"]] if args.expired else []))
        resp = stub.ListDeliveries(admin_pb2.ListDeliveriesRequest(states=states, recipient=args.recipient),
                                   metadata=tokens.metadata())
    except grpc.RpcError as err:
        return fail(err)
    if not resp.deliveries:
        print("no deliveries in " + " or ".join(
            exchange_pb2.DeliveryState.Name(s).removeprefix("DELIVERY_STATE_") for s in states or
            (STATES["failed"], STATES["expired"])), file=sys.stderr)
    for d in resp.deliveries:
        print(f"{d.message_id}\t{d.recipient}\t{exchange_pb2.DeliveryState.Name(d.state).removeprefix('DELIVERY_STATE_')}"
              f"\tattempts={d.attempts}\troute={d.route}\t{when(d.updated_at.seconds)}\t{d.last_error}")
    return 0


def _submit(args: Any, fmt: str, cls: Any, in_reply_to: str = "") -> int:
    profile, channel, tokens = connect(args.client)
    doc = json_format.Parse(Path(args.file).read_text(), cls())
    try:
        resp = exchange_pb2_grpc.ExchangeStub(channel).Submit(exchange_pb2.SubmitRequest(
            format=fmt, content=doc.SerializeToString(), in_reply_to=in_reply_to), metadata=tokens.metadata())
    except grpc.RpcError as err:
        return fail(err)
    print(f"{resp.message_id}\t{','.join(resp.recipients)}\tconversation={resp.conversation_id}")
    return 0


def _request(args: Any) -> int:
    return _submit(args, "swg.assistance.request.v1", assistance_pb2.AssistanceRequest)


def _answer(args: Any) -> int:
    return _submit(args, "swg.assistance.response.v1", assistance_pb2.AssistanceResponse, args.in_reply_to)


def _pending(args: Any) -> int:
    _, channel, tokens = connect(args.client, "assist")
    try:
        resp = admin_pb2_grpc.AdminStub(channel).ListAssistanceCases(
            admin_pb2.ListAssistanceCasesRequest(only_open=not args.all), metadata=tokens.metadata())
    except grpc.RpcError as err:
        return fail(err)
    now = time.time()
    for c in resp.cases:
        deadline = dt.datetime.fromtimestamp(c.deadline.seconds, dt.timezone.utc).isoformat(timespec="minutes")
        flag = "ANSWERED" if c.answered else ("OVERDUE" if c.overdue or c.deadline.seconds < now else "open")
        print(json.dumps({"request": c.request_message_id, "from": c.requesting_administration,
                          "to": c.requested_administration, "agreement": c.agreement_reference,
                          "deadline": deadline, "state": flag}))
    return 0
