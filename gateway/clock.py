"""Time as the gateway stores it: integer microseconds since the Unix epoch (UTC), and protobuf Timestamps."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp


def now_us() -> int:
    return time.time_ns() // 1000


def timestamp_us(ts: Timestamp) -> int:
    """A protobuf Timestamp as stored microseconds (sub-microsecond digits are dropped)."""
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def timestamp(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts
