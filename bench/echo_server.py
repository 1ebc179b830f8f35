"""The baseline: a bare gRPC aio server with the node's mTLS and nothing else.

It takes the same request bytes a Submit carries and answers with as many bytes as a SubmitResponse,
so the difference to ``submit_unary`` is what the gateway itself costs; ``EchoStream`` does the same
per request of one bidirectional stream, the baseline of ``submit_stream``. Prints ``ready <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from collections.abc import AsyncIterator
from typing import Any

import grpc



def _identity(b: bytes) -> bytes:
    return b


async def serve(args: argparse.Namespace) -> None:
    answer = b"\x00" * args.response_bytes

    async def echo(request: bytes, context: Any) -> bytes:
        return answer

    async def echo_stream(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for _ in requests:
            yield answer

    handler = grpc.method_handlers_generic_handler("swg.bench.v1.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo, request_deserializer=_identity,
                                                    response_serializer=_identity),
        "EchoStream": grpc.stream_stream_rpc_method_handler(echo_stream, request_deserializer=_identity,
                                                            response_serializer=_identity)})
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(Path(args.key).read_bytes(), Path(args.cert).read_bytes())],
                                        root_certificates=Path(args.ca).read_bytes(), require_client_auth=True)
    port = server.add_secure_port(f"127.0.0.1:{args.port}", creds)
    await server.start()
    print(f"ready {port}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--response-bytes", type=int, default=120)
    try:
        asyncio.run(serve(p.parse_args()))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
