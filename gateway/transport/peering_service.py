"""swg.v1.Peering: pin the calling node, hand each request to gateway.peering, answer in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gateway.api.swg.v1 import peering_pb2, peering_pb2_grpc
from gateway.transport.auth import current_identity
from gateway.node import Node
from gateway.peering import Inbound, check_peer
from gateway.transport.status import grpc_errors, to_status


class PeeringServicer(peering_pb2_grpc.PeeringServicer):
    def __init__(self, node: Node, inbound: Inbound):
        self._node = node
        self._inbound = inbound

    @grpc_errors
    async def Relay(self, request_iterator: AsyncIterator[peering_pb2.RelayRequest],
                    context: Any) -> AsyncIterator[peering_pb2.RelayResponse]:
        peer = check_peer(self._node, current_identity())
        # One at a time, so that messages are stored (and later delivered) in the order they were relayed.
        async for req in request_iterator:
            result = await self._inbound.handle(peer, req)
            if result.error is not None:
                result.response.error.CopyFrom(to_status(result.error))
            yield result.response
