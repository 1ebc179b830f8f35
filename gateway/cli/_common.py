"""Helpers shared by the client commands: profiles, stubs, readable gRPC errors, progress."""

from __future__ import annotations

import re
import sys
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.client import ClientProfile, TokenSource, secure_channel
from gateway.errors import ConfigError, FieldViolation


def add_client_arg(parser: Any) -> None:
    parser.add_argument("--client", required=True, metavar="FILE",
                        help="client profile TOML (participant, address, ca, cert, key, [token])")


def load_profile(path: str) -> ClientProfile:
    # A ConfigError goes up to gateway.cli.main, which prints each problem on its own line (exit 2).
    return ClientProfile.load(path)


# The node the last `connect` aimed at, so an unreachable node is named in the one-line error.
_target: dict[str, str] = {}

_NOT_REACHED = ("failed to connect", "connection refused", "dns resolution failed", "connect failed",
                "name resolution", "deadline exceeded while waiting for", "no address")


def connect(path: str, need: str | None = None) -> tuple[ClientProfile, grpc.Channel, TokenSource]:
    """A channel and tokens as the profile says; ``need`` is a scope the command needs that a profile minting its
    own tokens must list (a participant's everyday profile does not get admin rights by being used for admin)."""
    profile = load_profile(path)
    if need and profile.token_file is None and need not in profile.scopes:
        raise ConfigError([FieldViolation(
            "token.scopes", f"has no {need!r} scope, which this command needs; use a profile made for it"
            + (", e.g. examples/clients/de-node-admin.toml" if need == "admin" else ""))])
    remember_address(profile.address)
    return profile, secure_channel(profile), TokenSource(profile)


_TOO_BIG = re.compile(r"larger than max \((\d+) vs\. (\d+)\)")


def remember_address(address: str) -> None:
    """The node address that "no node at ADDRESS" names."""
    _target["address"] = address


def explain(err: grpc.RpcError) -> str:
    """One line per problem: the status, then each field violation (path: reason)."""
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE and any(s in details.lower() for s in _NOT_REACHED):
        address = _target.get("address", "the configured address")
        return f"no node at {address} — is it running? (`make run`)"
    too_big = _TOO_BIG.search(details) if code == grpc.StatusCode.RESOURCE_EXHAUSTED else None
    if too_big:
        return (f"RESOURCE_EXHAUSTED: the request is {int(too_big[1]):,} bytes; the node reads at most "
                f"{int(too_big[2]):,} bytes per call (its documents are limited by limits.max_message_bytes)")
    lines = [f"{code.name}: {details}"]
    if code == grpc.StatusCode.UNAUTHENTICATED and "expired" in details.lower():
        lines.append("  the token has expired: get a new one with `gateway token issue` (or drop [token] from the "
                     "client profile so it signs its own short-lived tokens)")
    try:
        st = rpc_status.from_call(err)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a malformed details trailer must not hide the status itself
        st = None
    if st is not None:
        for detail in st.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                detail.Unpack(br)
                lines += [f"  {v.field}: {v.description}" for v in br.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                ri = error_details_pb2.RetryInfo()
                detail.Unpack(ri)
                lines.append(f"  retry after {ri.retry_delay.seconds + ri.retry_delay.nanos / 1e9:.1f} s")
    return "\n".join(lines)


def fail(err: grpc.RpcError) -> int:
    print(explain(err), file=sys.stderr)
    return 1


class Progress:
    """A one-line progress counter on stderr (only when stderr is a terminal, or when forced)."""

    def __init__(self, total: int, label: str, force: bool = False):
        self.total, self.label, self.done = total, label, 0
        self.enabled = force or sys.stderr.isatty()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            pct = 100 * self.done // max(self.total, 1)
            print(f"\r{self.label}: {self.done}/{self.total} ({pct}%)", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def plural(n: int, one: str, many: str) -> str:
    """ "1 delivery", "3 deliveries"."""
    return f"{n} {one if n == 1 else many}"


def when(seconds: float) -> str:
    """A time for a person: ISO 8601 in UTC and in local time (never raw microseconds)."""
    import datetime as dt

    at = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    local = at.astimezone()
    utc = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return utc if local.utcoffset() == dt.timedelta(0) else f"{utc} ({local.isoformat(timespec='seconds')})"
