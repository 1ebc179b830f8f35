"""The standard gRPC health service, completed with ``List`` (grpc.health.v1, 2024), which the packaged aio
servicer leaves UNIMPLEMENTED; probes and operators use it to see every service's status in one call."""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health, health_pb2

# types-grpcio-health-checking predates List; the runtime module has its messages.
_messages: Any = health_pb2


class HealthServicer(health.aio.HealthServicer):
    async def List(self, request: Any, context: Any) -> Any:
        out = _messages.HealthListResponse()
        statuses: dict[str, int] = getattr(self, "_server_status")  # the base class keeps them here, unexported
        for service, status in statuses.items():
            out.statuses[service].status = status
        return out
