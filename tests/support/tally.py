"""Counters the security and fault suites fill in, printed at the end of the pytest run.

Each suite's conftest prints its own section in ``pytest_terminal_summary`` so that ``make test``,
``make test-security`` and ``make test-faults`` all end with the figures of what was tried.
"""

from __future__ import annotations

from collections import Counter

# category -> number of attacks tried / refused as expected
ATTACKS_TRIED: Counter[str] = Counter()
ATTACKS_REFUSED: Counter[str] = Counter()
# fault kind -> number injected
FAULTS: Counter[str] = Counter()
# "accepted", "delivered", "redelivered", "lost", ...
MESSAGES: Counter[str] = Counter()


def attack(category: str, refused: bool) -> None:
    ATTACKS_TRIED[category] += 1
    if refused:
        ATTACKS_REFUSED[category] += 1


def fault(kind: str, n: int = 1) -> None:
    FAULTS[kind] += n


def messages(**counts: int) -> None:
    for k, v in counts.items():
        MESSAGES[k] += v


def security_lines() -> list[str]:
    if not ATTACKS_TRIED:
        return []
    lines = [f"{'category':<16} {'tried':>6} {'refused':>8}"]
    for cat in sorted(ATTACKS_TRIED):
        lines.append(f"{cat:<16} {ATTACKS_TRIED[cat]:>6} {ATTACKS_REFUSED[cat]:>8}")
    total, refused = sum(ATTACKS_TRIED.values()), sum(ATTACKS_REFUSED.values())
    lines.append(f"{'total':<16} {total:>6} {refused:>8}   (let through: {total - refused})")
    return lines


def fault_lines() -> list[str]:
    if not FAULTS and not MESSAGES:
        return []
    lines = ["faults injected: " + (", ".join(f"{k}={v}" for k, v in sorted(FAULTS.items())) or "none")]
    m = MESSAGES
    lines.append(f"messages accepted={m['accepted']} delivered={m['delivered']} "
                 f"redelivered(at-least-once, deduplicated)={m['redelivered']} lost={m['lost']}")
    return lines
