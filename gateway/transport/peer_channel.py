"""The grpc.aio relay stream an outbound peering link sends over (``gateway.peering.channel.PeerChannel``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from gateway.api.swg.v1 import peering_pb2, peering_pb2_grpc
from gateway.errors import Unavailable

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def keepalive_options(hang_timeout_s: float) -> list[tuple[str, int]]:
    """HTTP/2 keepalive: a ping every half hang timeout, even on an idle stream, and the transport closed
    (the stream UNAVAILABLE) when one is not answered within the other half."""
    half_ms = max(250, int(hang_timeout_s * 500))
    return [
        ("grpc.keepalive_time_ms", half_ms),
        ("grpc.keepalive_timeout_ms", half_ms),
        # The timeout gRPC core actually sets for each ping it sends (default 60 s).
        ("grpc.http2.ping_timeout_ms", half_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def _broken(exc: grpc.aio.AioRpcError) -> Unavailable:
    return Unavailable(f"{exc.code().name}: {exc.details()}")


class GrpcRelayStream:
    def __init__(self, channel: grpc.aio.Channel,
                 call: grpc.aio.StreamStreamCall[peering_pb2.RelayRequest, peering_pb2.RelayResponse]):
        self._channel = channel
        self._call = call

    async def write(self, request: peering_pb2.RelayRequest) -> None:
        try:
            await self._call.write(request)
        except grpc.aio.AioRpcError as exc:
            raise _broken(exc) from None
        except asyncio.InvalidStateError:
            # Writing to a call that already ended (its connection went away) raises this, not AioRpcError.
            raise await self._ended() from None

    async def read(self) -> peering_pb2.RelayResponse | None:
        try:
            resp = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            raise _broken(exc) from None
        except asyncio.InvalidStateError:
            raise await self._ended() from None
        # The stream yields grpc.aio.EOF, typed as a bare object, when the peer closes it.
        return resp if isinstance(resp, peering_pb2.RelayResponse) else None

    async def _ended(self) -> Unavailable:
        return Unavailable(await self.ended() or "the relay stream is in an unusable state")

    async def ended(self) -> str | None:
        if not self._call.done():
            return None
        return f"{(await self._call.code()).name}: {await self._call.details()}"

    async def close(self) -> None:
        self._call.cancel()
        await self._channel.close()


class GrpcPeerChannel:
    def open(self, address: str, peer: str, *, ca: Path, cert: Path, key: Path,
             hang_timeout_s: float) -> GrpcRelayStream:
        creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes(),
                                             private_key=key.read_bytes(), certificate_chain=cert.read_bytes())
        # The name check makes gRPC accept only a certificate issued to this node name by our CA.
        channel = grpc.aio.secure_channel(
            address, creds, options=CHANNEL_OPTIONS + keepalive_options(hang_timeout_s) + [("grpc.ssl_target_name_override", peer)])
        return GrpcRelayStream(channel, peering_pb2_grpc.PeeringStub(channel).Relay())
