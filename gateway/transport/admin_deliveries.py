"""Admin methods of the federation work: dead-letter listing, retries, assistance cases.

``DeliveriesAdmin`` holds the servicer methods; the node's Admin servicer inherits it (see
docs/federation.md, "Admin service"). ``FederationAdminServicer`` is a complete Admin servicer built
from it alone, for nodes without the evidence methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gateway.exchange import assistance
from gateway.exchange import deadletter
from gateway.api.swg.v1 import admin_pb2
from gateway.transport.auth import current_identity
from gateway.node import Node
from gateway.transport import admin_views
from gateway.transport.status import grpc_errors


class DeliveriesAdmin:
    _node: Node
    _wake_relay: Callable[[], None] | None = None

    def init_deliveries_admin(self, node: Node, wake_relay: Callable[[], None] | None = None) -> None:
        self._node = node
        self._wake_relay = wake_relay

    @grpc_errors
    async def ListDeliveries(self, request: admin_pb2.ListDeliveriesRequest,
                             context: Any) -> admin_pb2.ListDeliveriesResponse:
        return await asyncio.to_thread(lambda: admin_views.deliveries_response(deadletter.list_deliveries(
            self._node, list(request.states), request.recipient, request.limit)))

    @grpc_errors
    async def RetryDeliveries(self, request: admin_pb2.RetryDeliveriesRequest,
                              context: Any) -> admin_pb2.RetryDeliveriesResponse:
        n = await deadletter.retry(self._node, list(request.message_ids), request.recipient,
                                   current_identity().principal, self._wake_relay, operator=request.operator)
        return admin_pb2.RetryDeliveriesResponse(requeued=n)

    @grpc_errors
    async def ListAssistanceCases(self, request: admin_pb2.ListAssistanceCasesRequest,
                                  context: Any) -> admin_pb2.ListAssistanceCasesResponse:
        caller = current_identity().principal
        return await asyncio.to_thread(lambda: admin_views.assistance_cases_response(
            assistance.list_cases(self._node, caller, request.only_open)))
