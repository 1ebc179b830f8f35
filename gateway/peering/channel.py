"""What an outbound link needs from a transport: one ordered bidi relay stream to a peer node.

``gateway.transport.peer_channel`` implements it with grpc.aio; node assembly passes it in, so peering
holds no transport code. A broken stream raises ``Unavailable`` whose message names the cause. The
channel pings the peer (HTTP/2 keepalive) so that a peer which stops answering breaks the stream within
``hang_timeout_s``; the link bounds each of its own awaits on the stream as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gateway.api.swg.v1 import peering_pb2


class RelayStream(Protocol):
    async def write(self, request: peering_pb2.RelayRequest) -> None: ...

    async def read(self) -> peering_pb2.RelayResponse | None:
        """The next response in order; None once the peer has closed the stream."""
        ...

    async def ended(self) -> str | None:
        """Why the stream has ended (the peer closed it, keepalive broke it), or None while it is open."""
        ...

    async def close(self) -> None: ...


class PeerChannel(Protocol):
    def open(self, address: str, peer: str, *, ca: Path, cert: Path, key: Path,
             hang_timeout_s: float) -> RelayStream:
        """A relay stream to node ``peer`` at ``address``, accepting only a certificate our CA issued to it;
        broken when the peer leaves a keepalive ping unanswered for ``hang_timeout_s``."""
        ...
