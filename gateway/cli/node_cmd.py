"""`gateway serve`, `gateway config check`, `gateway health`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.cli._common import add_client_arg, explain, load_profile, remember_address
from gateway.client import channel_credentials


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run a node")
    p.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    # Set by the supervisor of a node with [node] processes > 1 when it starts its workers.
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--listen", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_serve)

    c = sub.add_parser("config", help="node configuration")
    csub = c.add_subparsers(dest="config_command", required=True)
    chk = csub.add_parser("check", help="validate a node config and its directory; names every bad key")
    chk.add_argument("file")
    chk.set_defaults(func=_check)

    h = sub.add_parser("health", help="gRPC health of a node: prints SERVING or the reason")
    add_client_arg(h)
    h.add_argument("--service", default="", help="service name (default: the whole node)")
    h.add_argument("--timeout", type=float, default=5.0)
    h.set_defaults(func=_health)


def _serve(args: Any) -> int:
    from gateway.config import load_node_config
    from gateway.telemetry.logs import configure_logging

    configure_logging()

    def ready(address: str) -> None:
        print(f"gateway node listening on {address} (mTLS; Ctrl-C stops it)", flush=True)

    def worker_ready(address: str) -> None:
        print(f"worker ready {address}", flush=True)

    if args.worker is not None:
        from gateway.transport.server import serve

        # Imports done: wait for the supervisor's "go" (it migrates the schema meanwhile); no line means
        # the supervisor stopped or is gone.
        if not _wait_for_go():
            return 0
        asyncio.run(serve(args.config, ready=worker_ready, worker=args.worker, listen=args.listen))
    elif load_node_config(args.config).processes > 1:
        from gateway.runtime.supervisor import supervise

        return asyncio.run(supervise(args.config, ready=ready))
    else:
        from gateway.errors import GatewayError
        from gateway.transport.server import serve

        try:
            asyncio.run(serve(args.config, ready=ready))
        except GatewayError as exc:
            # The database refused at start (disk full, unreachable): one line, no traceback.
            import sys

            print(f"gateway serve: cannot start node {load_node_config(args.config).name}: {exc}", file=sys.stderr)
            return 2
    return 0


def _wait_for_go() -> bool:
    """Read stdin up to the first newline, unbuffered (the server later watches the same fd for EOF)."""
    import os
    import sys

    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(sys.stdin.fileno(), 1)
        if not chunk:
            return False
        line += chunk
    return line == b"go\n"


def _check(args: Any) -> int:
    from gateway.evidence.timestamping import TsaClient
    from gateway.federation import check

    cfg, directory = check(args.file)
    # The TSA's CA file is read as the node reads it at start, so a bad one is named here, not at serve.
    TsaClient.from_settings(cfg.audit)
    print(f"{args.file}: OK — node {cfg.name} on {cfg.listen}, {len(cfg.participants)} hosted participant(s); "
          f"directory {directory.name} v{directory.version}: {len(directory.nodes)} node(s), "
          f"{len(directory.participants)} participant(s), {len(directory.routes)} route(s)")
    return 0


def _health(args: Any) -> int:
    profile = load_profile(args.client)
    with grpc.secure_channel(profile.address, channel_credentials(profile)) as ch:
        try:
            # types-grpcio-health-checking declares no methods on HealthStub.
            resp = health_pb2_grpc.HealthStub(ch).Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as err:
            remember_address(profile.address)
            print(f"UNREACHABLE: {explain(err)}")
            return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    print(name)
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1
