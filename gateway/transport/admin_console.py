"""Admin methods the operator console (gateway.console) is built on; they serve the CLI and other tools too.

Overview counts, message search (keyset-paged: the page token is the last row's acceptance time and id),
one message with its audit entries, and item timelines over all messages on the node.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from gateway.api.swg.v1 import admin_pb2
from gateway.clock import now_us, timestamp_us
from gateway.errors import FieldViolation, InvalidArgument
from gateway.exchange import tracking
from gateway.exchange.delivery import ts
from gateway.node import Node
from gateway.store import MessageFilter, MessageRow, Overview
from gateway.store.states import NAMES
from gateway.transport.exchange_views import status_response, track_response
from gateway.transport.status import grpc_errors

DEFAULT_PAGE = 50
MAX_PAGE = 500
RECENT_REFUSALS = 20


def _page_token(row: MessageRow) -> str:
    return base64.urlsafe_b64encode(f"{row.accepted_us}:{row.message_id}".encode()).decode()


def _after(token: str) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        at, mid = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        return int(at), mid
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("bad page token", violations=[FieldViolation("page_token", "not a token this node gave")]
                              ) from None


def _opt_us(t: Any) -> int:
    return 0 if (t.seconds == 0 and t.nanos == 0) else timestamp_us(t)


def overview_response(node: Node, o: Overview, window_us: int, bucket_us: int) -> admin_pb2.GetOverviewResponse:
    d = node.directory
    out = admin_pb2.GetOverviewResponse(node=node.name, directory_version=d.version, messages=o.messages,
                                        participants=sorted(node.keys))
    for recipient, depth in sorted(o.queue_depths.items()):
        out.queues.add(recipient=recipient, depth=depth)
    routes = {r.route: r for r in o.routes}
    for name, dn in sorted(d.nodes.items()):
        if name == node.name:
            continue
        r = routes.get(name)
        out.peers.add(node=name, address=dn.address, queued=r.queued if r else 0, dead=r.dead if r else 0,
                      last_error=r.last_error if r else "")
    for state, n in o.deliveries_by_state.items():
        out.deliveries_by_state[NAMES.get(state, str(state))] = n
    for start, accepted, delivered in o.throughput:
        out.throughput.add(start=ts(start), accepted=accepted, delivered=delivered)
    for e in o.refusals:
        out.recent_refusals.add(at=ts(e.at_us), event=e.event, message_id=e.message_id, actor=e.actor,
                                reason=_reason(e.detail))
    return out


def _reason(detail: str) -> str:
    try:
        d = json.loads(detail or "{}")
    except ValueError:
        return ""
    if not isinstance(d, dict):
        return ""
    return str(d.get("reason") or d.get("error") or d.get("code") or "")


class ConsoleAdmin:
    _node: Node

    @grpc_errors
    async def GetOverview(self, request: admin_pb2.GetOverviewRequest, context: Any) -> admin_pb2.GetOverviewResponse:
        window_us = (request.window_s or 3600) * 1_000_000
        bucket_us = max(request.bucket_s or 60, 1) * 1_000_000
        if window_us // bucket_us > 1440:
            raise InvalidArgument("too many buckets", violations=[FieldViolation("bucket_s", "at most 1440 buckets")])
        to = now_us()
        frm = to - window_us
        o = await asyncio.to_thread(self._node.store.overview, frm, to, bucket_us, RECENT_REFUSALS)
        return overview_response(self._node, o, window_us, bucket_us)

    @grpc_errors
    async def SearchMessages(self, request: admin_pb2.SearchMessagesRequest,
                             context: Any) -> admin_pb2.SearchMessagesResponse:
        limit = min(request.limit or DEFAULT_PAGE, MAX_PAGE)
        f = MessageFilter(item_id=request.item_id.strip().upper(), message_id=request.message_id.strip(),
                          conversation_id=request.conversation_id.strip(), participant=request.participant.strip(),
                          document_type=request.document_type.strip(), state=int(request.state),
                          accepted_from_us=_opt_us(request.accepted_from), accepted_to_us=_opt_us(request.accepted_to))
        after = _after(request.page_token)
        rows = await asyncio.to_thread(self._node.store.search_messages, f, after, limit + 1)
        out = admin_pb2.SearchMessagesResponse()
        for r in rows[:limit]:
            out.messages.add(message_id=r.message_id, conversation_id=r.conversation_id, sender=r.sender,
                             document_type=r.document_type, accepted_at=ts(r.accepted_us),
                             recipients=[x for x, _ in r.recipients], states=[s for _, s in r.recipients],
                             item_ids=list(r.item_ids))
        if len(rows) > limit:
            out.next_page_token = _page_token(rows[limit - 1])
        return out

    @grpc_errors
    async def GetMessage(self, request: admin_pb2.GetMessageRequest, context: Any) -> admin_pb2.GetMessageResponse:
        if not request.message_id:
            raise InvalidArgument("message_id required", violations=[FieldViolation("message_id", "required")])
        store = self._node.store

        def read() -> admin_pb2.GetMessageResponse:
            st = store.status(request.message_id)
            out = admin_pb2.GetMessageResponse(status=status_response(st), item_ids=store.items_of(request.message_id))
            for e in store.audit_of(request.message_id):
                out.audit.add(sequence=e.seq, at=ts(e.at_us), event=e.event, actor=e.actor, subject=e.subject,
                              detail=e.detail)
            return out
        return await asyncio.to_thread(read)

    @grpc_errors
    async def TrackNodeItems(self, request: admin_pb2.TrackNodeItemsRequest,
                             context: Any) -> admin_pb2.TrackNodeItemsResponse:
        resp = await asyncio.to_thread(
            lambda: track_response(tracking.track(self._node, None, list(request.item_ids))))
        return admin_pb2.TrackNodeItemsResponse(items=resp.items)
