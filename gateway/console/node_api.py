"""The console's way to the node: the Admin API (and gRPC health) over the client profile's mTLS channel."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc
from gateway.client import ClientProfile, TokenSource, secure_channel

TIMEOUT_S = 10.0
T = TypeVar("T")


class NodeError(Exception):
    """A call the node refused or could not answer; ``message`` is fit to show an operator."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class NodeApi:
    def __init__(self, profile: ClientProfile):
        self.profile = profile
        self._tokens = TokenSource(profile)
        self._channel = secure_channel(profile)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any, answer: type[T]) -> T:
        try:
            resp = getattr(self._admin, method)(request, metadata=self._tokens.metadata(), timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            raise NodeError(err.code().name, err.details() or "") from None
        assert isinstance(resp, answer)
        return resp

    def health(self) -> str:
        """SERVING, NOT_SERVING, or UNREACHABLE: <why>."""
        try:
            resp = self._health.Check(health_pb2.HealthCheckRequest(service=""),  # type: ignore[attr-defined]
                                      timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            return f"UNREACHABLE: {err.code().name}"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))

    def overview(self) -> admin_pb2.GetOverviewResponse:
        return self._call("GetOverview",
                          admin_pb2.GetOverviewRequest(window_s=3600, bucket_s=60),
                          admin_pb2.GetOverviewResponse)

    def search(self, **filters: Any) -> admin_pb2.SearchMessagesResponse:
        return self._call("SearchMessages",
                          admin_pb2.SearchMessagesRequest(**filters),
                          admin_pb2.SearchMessagesResponse)

    def message(self, message_id: str) -> admin_pb2.GetMessageResponse:
        return self._call("GetMessage",
                          admin_pb2.GetMessageRequest(message_id=message_id),
                          admin_pb2.GetMessageResponse)

    def track(self, item_ids: list[str]) -> admin_pb2.TrackNodeItemsResponse:
        return self._call("TrackNodeItems", admin_pb2.TrackNodeItemsRequest(item_ids=item_ids),
                          admin_pb2.TrackNodeItemsResponse)

    def dead_letters(self, recipient: str = "", limit: int = 200) -> admin_pb2.ListDeliveriesResponse:
        return self._call("ListDeliveries",
                          admin_pb2.ListDeliveriesRequest(recipient=recipient, limit=limit),
                          admin_pb2.ListDeliveriesResponse)

    def retry(self, message_ids: list[str], operator: str) -> int:
        resp = self._call("RetryDeliveries",
                          admin_pb2.RetryDeliveriesRequest(message_ids=message_ids,
                                                                              operator=operator),
                          admin_pb2.RetryDeliveriesResponse)
        return int(resp.requeued)

    def export_evidence(self, message_id: str, operator: str) -> bytes:
        resp = self._call("ExportEvidence",
                          admin_pb2.ExportEvidenceRequest(message_id=message_id, operator=operator),
                          admin_pb2.ExportEvidenceResponse)
        return bytes(resp.bundle)

    def kpis(self, from_us: int, to_us: int, period: str, partner: str = "") -> admin_pb2.GetKpisResponse:
        req = admin_pb2.GetKpisRequest(period=period, partner=partner)
        getattr(req, "from").FromMicroseconds(from_us)
        req.to.FromMicroseconds(to_us)
        return self._call("GetKpis", req, admin_pb2.GetKpisResponse)

    def verify_audit(self) -> admin_pb2.VerifyAuditResponse:
        return self._call("VerifyAudit",
                          admin_pb2.VerifyAuditRequest(),
                          admin_pb2.VerifyAuditResponse)

    def directory(self) -> admin_pb2.GetDirectoryResponse:
        return self._call("GetDirectory",
                          admin_pb2.GetDirectoryRequest(),
                          admin_pb2.GetDirectoryResponse)

    def assistance(self) -> admin_pb2.ListAssistanceCasesResponse:
        return self._call("ListAssistanceCases",
                          admin_pb2.ListAssistanceCasesRequest(only_open=False),
                          admin_pb2.ListAssistanceCasesResponse)
