"""Refusals become at most two audit rows per participant, code and kind of error a window, with counts."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import InvalidArgument, ResourceExhausted
from gateway.evidence import audit

POST, TAX = "DE/POST/MAIN", "DE/TAX/MAIN"


class Log:
    def __init__(self) -> None:
        self.rows: list[audit.AuditEvent] = []

    def append(self, events: Sequence[audit.AuditEvent], at_us: int) -> None:
        self.rows.extend(events)


def test_a_flood_of_refusals_is_one_row_at_once_and_one_count_at_the_end_of_the_window() -> None:
    now = [1_000_000]
    log = Log()
    tally = audit.RefusalTally(log.append, window_s=60, clock=lambda: now[0])
    opened = [tally.add(POST, InvalidArgument(f"bad document {i}"), message_id=f"m{i}") for i in range(1000)]
    assert opened == [True] + [False] * 999  # the caller logs the first only
    assert [(r.actor, r.message_id, r.detail["count"], r.detail["reason"]) for r in log.rows] == [
        (POST, "m0", 1, "bad document 0")]
    assert tally.flush() == 0  # the window is still open
    now[0] += 60_000_000
    assert tally.flush() == 1
    summary = log.rows[-1]
    assert (summary.event, summary.actor, summary.detail["code"], summary.detail["count"]) == (
        audit.REFUSED, POST, "INVALID_ARGUMENT", 999)


def test_participants_and_kinds_are_counted_apart_and_a_new_window_opens_with_a_row() -> None:
    now = [0]
    log = Log()
    tally = audit.RefusalTally(log.append, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        tally.add(POST, InvalidArgument("bad"))
        tally.add(POST, ResourceExhausted("rate limit"))
        tally.add(TAX, InvalidArgument("bad"))
    assert len(log.rows) == 3
    now[0] += 61_000_000
    assert tally.add(POST, InvalidArgument("bad again"))  # a new window: its count row for the old one, then its first
    assert [(r.actor, r.detail["kind"], r.detail["count"]) for r in log.rows[3:]] == [
        (POST, "InvalidArgument", 2), (POST, "InvalidArgument", 1)]
    tally.flush(everything=True)
    counts = {(r.actor, r.detail["kind"]): 0 for r in log.rows}
    for r in log.rows:
        counts[(r.actor, r.detail["kind"])] += r.detail["count"]
    assert counts == {(POST, "InvalidArgument"): 4, (POST, "ResourceExhausted"): 3, (TAX, "InvalidArgument"): 3}
