"""Writes and reads of ``checkpoint_stamps``: the durable queue of checkpoints waiting for a TSA stamp."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

import gateway.store.schema as t
from gateway.store.engine import WriteOp


@dataclass(frozen=True)
class WaitingStamp:
    checkpoint: int
    signed: bytes
    queued_us: int
    attempts: int


@dataclass(frozen=True)
class StoredStamp:
    checkpoint: int
    signed: bytes
    token: bytes
    gen_time_us: int
    stamped_us: int


@dataclass(frozen=True)
class StampStatus:
    waiting: int
    # Of the oldest checkpoint still waiting (0 if none) and of the newest stamp (0 if none yet).
    oldest_waiting_queued_us: int
    newest_gen_time_us: int
    newest_checkpoint: int
    last_error: str


def enqueue(checkpoint: int, signed: bytes, now_us: int) -> WriteOp[bool]:
    def op(conn: Connection) -> bool:
        s = t.checkpoint_stamps
        if conn.execute(select(s.c.checkpoint).where(s.c.checkpoint == checkpoint)).first() is not None:
            return False
        conn.execute(insert(s).values(checkpoint=checkpoint, signed=signed, queued_us=now_us, attempts=0,
                                      last_error=""))
        return True
    return op


def record_stamp(checkpoint: int, token: bytes, gen_time_us: int, now_us: int) -> WriteOp[bool]:
    def op(conn: Connection) -> bool:
        s = t.checkpoint_stamps
        done = conn.execute(update(s).where(s.c.checkpoint == checkpoint, s.c.stamped_us.is_(None)).values(
            token=token, gen_time_us=gen_time_us, stamped_us=now_us, attempts=s.c.attempts + 1, last_error=""))
        return bool(done.rowcount)
    return op


def record_failure(checkpoint: int, reason: str) -> WriteOp[None]:
    def op(conn: Connection) -> None:
        s = t.checkpoint_stamps
        conn.execute(update(s).where(s.c.checkpoint == checkpoint, s.c.stamped_us.is_(None)).values(
            attempts=s.c.attempts + 1, last_error=reason[:500]))
    return op


def waiting(conn: Connection, limit: int) -> list[WaitingStamp]:
    s = t.checkpoint_stamps
    rows = conn.execute(select(s.c.checkpoint, s.c.signed, s.c.queued_us, s.c.attempts)
                        .where(s.c.stamped_us.is_(None)).order_by(s.c.checkpoint).limit(limit)).all()
    return [WaitingStamp(int(r.checkpoint), bytes(r.signed), int(r.queued_us), int(r.attempts)) for r in rows]


def stamp_of(conn: Connection, checkpoint: int) -> StoredStamp | None:
    s = t.checkpoint_stamps
    r = conn.execute(select(s).where(s.c.checkpoint == checkpoint, s.c.stamped_us.is_not(None))).first()
    if r is None:
        return None
    return StoredStamp(int(r.checkpoint), bytes(r.signed), bytes(r.token), int(r.gen_time_us), int(r.stamped_us))


def status(conn: Connection) -> StampStatus:
    s = t.checkpoint_stamps
    pending = s.c.stamped_us.is_(None)
    count, oldest = conn.execute(select(func.count(), func.min(s.c.queued_us)).where(pending)).one()
    newest = conn.execute(select(s.c.checkpoint, s.c.gen_time_us).where(s.c.stamped_us.is_not(None))
                          .order_by(s.c.checkpoint.desc()).limit(1)).first()
    err = conn.execute(select(s.c.last_error).where(pending).order_by(s.c.checkpoint).limit(1)).scalar()
    return StampStatus(int(count), int(oldest or 0), int(newest.gen_time_us) if newest else 0,
                       int(newest.checkpoint) if newest else 0, str(err or ""))
