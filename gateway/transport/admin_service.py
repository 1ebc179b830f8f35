"""swg.v1.Admin: decode the request, call one module, encode the response.

The servicer is assembled from mixins, one per area, so that areas built on other branches add
their methods without touching these: ``class AdminServicer(EvidenceAdmin, <OtherArea>Admin,
admin_pb2_grpc.AdminServicer)``. Methods no mixin provides stay UNIMPLEMENTED (the base class default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.swg.v1 import admin_pb2, admin_pb2_grpc
from gateway.clock import now_us, timestamp_us
from gateway.evidence import auditor, kpi
from gateway.errors import FieldViolation, InvalidArgument
from gateway.node import Node
from gateway.store.audit_log import EVIDENCE_EXPORTED, AuditEvent
from gateway.transport.auth import current_identity
from gateway.transport.admin_console import ConsoleAdmin
from gateway.transport.admin_deliveries import DeliveriesAdmin
from gateway.transport.admin_timestamps import TimestampsAdmin
from gateway.transport.status import grpc_errors


# GetKpis without `from`: the last 30 days before `to` (admin.proto says so).
KPI_DEFAULT_SPAN_US = 30 * 86_400 * 1_000_000


def _us(ts: Timestamp, default: int) -> int:
    if ts.seconds == 0 and ts.nanos == 0:
        return default
    return timestamp_us(ts)


class EvidenceAdmin:
    """Directory, audit verification, KPIs and evidence export."""

    _node: Node

    @grpc_errors
    async def GetDirectory(self, request: admin_pb2.GetDirectoryRequest, context: Any) -> admin_pb2.GetDirectoryResponse:
        # The bytes the running directory was loaded and verified from, not whatever the file holds now.
        directory = self._node.directory
        return admin_pb2.GetDirectoryResponse(directory=directory.data, signature=directory.signature,
                                              version=directory.version)

    @grpc_errors
    async def VerifyAudit(self, request: admin_pb2.VerifyAuditRequest, context: Any) -> admin_pb2.VerifyAuditResponse:
        node = self._node
        rep = await asyncio.to_thread(auditor.verify_store, node.store, node.trust, node.name,
                                      auditor.cadence_of(node.config))
        return admin_pb2.VerifyAuditResponse(
            ok=rep.ok, entries_checked=rep.entries_checked, checkpoints_checked=rep.checkpoints_checked,
            first_bad_sequence=rep.first_bad_seq, reason=rep.reason, head_sha256=rep.head_hash)

    @grpc_errors
    async def GetKpis(self, request: admin_pb2.GetKpisRequest, context: Any) -> admin_pb2.GetKpisResponse:
        to = _us(request.to, now_us())
        frm = _us(getattr(request, "from"), to - KPI_DEFAULT_SPAN_US)
        rows = await asyncio.to_thread(kpi.compute, self._node.store, frm, to, request.period or "day",
                                       request.partner)
        return admin_pb2.GetKpisResponse(rows=kpi.to_proto(rows))

    @grpc_errors
    async def ExportEvidence(self, request: admin_pb2.ExportEvidenceRequest,
                             context: Any) -> admin_pb2.ExportEvidenceResponse:
        node = self._node
        if not request.message_id:
            raise InvalidArgument("message_id required", violations=[FieldViolation("message_id", "required")])
        bundle = await asyncio.to_thread(auditor.export_evidence, node.store, request.message_id,
                                         node.checkpoint_signer, node.name)
        # Who exported what is evidence too; the entry names the message in its detail (not as its message_id,
        # so that the bundle's own entries stay those of the message's life).
        await node.store.append_audit([AuditEvent(EVIDENCE_EXPORTED, actor=current_identity().principal,
                                                  detail={"exported_message_id": request.message_id,
                                                          "operator": request.operator})], now_us())
        return admin_pb2.ExportEvidenceResponse(bundle=bundle)


class AdminServicer(EvidenceAdmin, DeliveriesAdmin, TimestampsAdmin, ConsoleAdmin, admin_pb2_grpc.AdminServicer):
    def __init__(self, node: Node, wake_relay: Callable[[], None] | None = None):
        self._node = node
        self.init_deliveries_admin(node, wake_relay)
