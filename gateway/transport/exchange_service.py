"""swg.v1.Exchange: decode the request, call one module, encode the response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.exchange import status_view, tracking
from gateway.api.swg.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.transport.auth import current_identity
from gateway.exchange.delivery import LocalDelivery
from gateway.errors import GatewayError
from gateway.node import Node
from gateway.transport import exchange_views
from gateway.transport.ratelimit import RateLimiter
from gateway.transport.status import grpc_errors, to_status
from gateway.exchange.submission import Submitter


class ExchangeServicer(exchange_pb2_grpc.ExchangeServicer):
    def __init__(self, node: Node, submitter: Submitter, local: LocalDelivery, limiter: RateLimiter | None = None):
        self._node = node
        self._submitter = submitter
        self._local = local
        # The interceptor's limiter: it takes a token for every call, SubmitStream one more per document.
        self._limiter = limiter

    @grpc_errors
    async def Submit(self, request: exchange_pb2.SubmitRequest, context: Any) -> exchange_pb2.SubmitResponse:
        return (await self._submitter.submit(current_identity().principal, request)).response

    @grpc_errors
    async def SubmitStream(self, request_iterator: AsyncIterator[exchange_pb2.SubmitRequest],
                           context: Any) -> AsyncIterator[exchange_pb2.SubmitResponse]:
        sender = current_identity().principal
        # Requests are processed concurrently (so their commits share transactions) and answered in order.
        pending: asyncio.Queue[asyncio.Task[Any] | None] = asyncio.Queue(maxsize=512)

        limiter = self._limiter

        async def one(req: exchange_pb2.SubmitRequest) -> exchange_pb2.SubmitResponse:
            try:
                if limiter is not None:
                    # Taken when the task starts, which is in the order of the requests.
                    try:
                        limiter.acquire(sender)
                    except GatewayError as err:
                        self._node.metrics.refused(err.grpc_code)
                        self._submitter.refusals.add(sender, err, message_id=req.message_id,
                                                     detail={"method": "SubmitStream"})
                        raise
                return (await self._submitter.submit(sender, req)).response
            except GatewayError as err:
                return exchange_pb2.SubmitResponse(message_id=req.message_id, error=to_status(err))

        async def feed() -> None:
            try:
                async for req in request_iterator:
                    await pending.put(asyncio.ensure_future(one(req)))
            finally:
                await pending.put(None)

        feeder = asyncio.ensure_future(feed())
        try:
            while True:
                task = await pending.get()
                if task is None:
                    break
                yield await task
            await feeder
        finally:
            feeder.cancel()

    @grpc_errors
    async def Receive(self, request: exchange_pb2.ReceiveRequest, context: Any) -> AsyncIterator[exchange_pb2.Delivery]:
        async for delivery in self._local.stream(current_identity().principal, request):
            yield delivery

    @grpc_errors
    async def Acknowledge(self, request: exchange_pb2.AcknowledgeRequest, context: Any) -> exchange_pb2.AcknowledgeResponse:
        receipts = await self._local.acknowledge(current_identity().principal, list(request.message_ids))
        return exchange_pb2.AcknowledgeResponse(receipts=receipts)

    @grpc_errors
    async def GetStatus(self, request: exchange_pb2.GetStatusRequest, context: Any) -> exchange_pb2.GetStatusResponse:
        caller = current_identity().principal
        return await asyncio.to_thread(
            lambda: exchange_views.status_response(status_view.status_of(self._node, caller, request.message_id)))

    @grpc_errors
    async def TrackItems(self, request: exchange_pb2.TrackItemsRequest,
                         context: Any) -> exchange_pb2.TrackItemsResponse:
        caller = current_identity().principal
        return await asyncio.to_thread(
            lambda: exchange_views.track_response(tracking.track(self._node, caller, list(request.item_ids))))
