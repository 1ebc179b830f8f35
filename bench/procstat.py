"""CPU time and resident memory of another process, read from /proc (Linux; no psutil needed).

Both count the process and its live descendants: a node with ``[node] processes`` > 1 is a supervisor
whose workers do the work.
"""

from __future__ import annotations

import os
from contextlib import suppress

TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    out = [pid]
    for p in out:
        with suppress(OSError):
            with open(f"/proc/{p}/task/{p}/children") as f:
                out.extend(int(c) for c in f.read().split())
    return out


def _cpu_one(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_one(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all threads of ``pid`` and its live descendants so far."""
    total = 0.0
    for p in tree(pid):
        with suppress(OSError):
            total += _cpu_one(p)
    return total


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with suppress(OSError):
            total += _rss_one(p)
    return total
