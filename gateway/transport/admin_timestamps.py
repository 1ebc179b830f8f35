"""Admin method of the checkpoint time-stamps: ``GetAuditStatus`` (gateway.evidence.timestamping).

``TimestampsAdmin`` is one of the mixins the node's Admin servicer is assembled from.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.api.swg.v1 import admin_pb2
from gateway.evidence import timestamping
from gateway.node import Node
from gateway.transport.status import grpc_errors


class TimestampsAdmin:
    _node: Node

    @grpc_errors
    async def GetAuditStatus(self, request: admin_pb2.GetAuditStatusRequest,
                             context: Any) -> admin_pb2.GetAuditStatusResponse:
        node = self._node
        st = await asyncio.to_thread(timestamping.status, node.store, node.tsa)
        resp = admin_pb2.GetAuditStatusResponse(
            timestamping_enabled=st.enabled, tsa_url=st.tsa_url, waiting=st.waiting,
            newest_stamped_checkpoint=st.newest_checkpoint, newest_stamp_age_seconds=st.newest_age_s or 0.0,
            oldest_waiting_seconds=st.oldest_waiting_s, last_error=st.last_error)
        if st.newest_gen_time_us:
            resp.newest_stamp_time.FromMicroseconds(st.newest_gen_time_us)
        return resp
