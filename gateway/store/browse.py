"""Reads for the operator console: message search (keyset-paged), node overview counts, throughput buckets
and recent refusals. Every query is bounded (a page, a time window, a limit) so that the console stays fast
on a node with many messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select

import gateway.store.audit_log as audit
import gateway.store.schema as t
from gateway.store.states import ACKNOWLEDGED, DELIVERED, EXPIRED, FAILED, IN_FLIGHT, QUEUED


@dataclass(frozen=True)
class MessageFilter:
    item_id: str = ""
    message_id: str = ""
    conversation_id: str = ""
    participant: str = ""
    document_type: str = ""
    state: int = 0
    accepted_from_us: int = 0
    accepted_to_us: int = 0


@dataclass(frozen=True)
class MessageRow:
    message_id: str
    conversation_id: str
    sender: str
    document_type: str
    accepted_us: int
    recipients: tuple[tuple[str, int], ...]
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class RouteCounts:
    route: str
    queued: int
    dead: int
    last_error: str


@dataclass(frozen=True)
class Overview:
    messages: int
    deliveries_by_state: dict[int, int]
    queue_depths: dict[str, int]
    routes: list[RouteCounts]
    throughput: list[tuple[int, int, int]]
    refusals: list[audit.AuditEntry]


def search_messages(conn: Connection, f: MessageFilter, after: tuple[int, str] | None, limit: int
                    ) -> list[MessageRow]:
    """Messages matching every filter of ``f``, newest first, the ``limit`` after the keyset ``after``
    (accepted_us, message_id) of the previous page."""
    m, d, mi = t.messages, t.deliveries, t.message_items
    cond: list[ColumnElement[bool]] = []
    if f.message_id:
        cond.append(m.c.message_id == f.message_id)
    if f.conversation_id:
        cond.append(m.c.conversation_id == f.conversation_id)
    if f.document_type:
        cond.append(m.c.document_type == f.document_type)
    if f.participant:
        cond.append(or_(m.c.sender == f.participant,
                        exists().where(d.c.message_id == m.c.message_id, d.c.recipient == f.participant)))
    if f.state:
        # Through the deliveries' state index: cheap when few messages are in the state (e.g. FAILED).
        cond.append(m.c.message_id.in_(select(d.c.message_id).where(d.c.state == f.state)))
    if f.item_id:
        cond.append(m.c.message_id.in_(select(mi.c.message_id).where(mi.c.item_id == f.item_id)))
    if f.accepted_from_us:
        cond.append(m.c.accepted_us >= f.accepted_from_us)
    if f.accepted_to_us:
        cond.append(m.c.accepted_us < f.accepted_to_us)
    if after is not None:
        cond.append(or_(m.c.accepted_us < after[0], and_(m.c.accepted_us == after[0], m.c.message_id < after[1])))
    rows = conn.execute(select(m.c.message_id, m.c.conversation_id, m.c.sender, m.c.document_type, m.c.accepted_us)
                        .where(*cond).order_by(m.c.accepted_us.desc(), m.c.message_id.desc()).limit(limit)).all()
    ids = [r.message_id for r in rows]
    recipients: dict[str, list[tuple[str, int]]] = {}
    items: dict[str, list[str]] = {}
    if ids:
        for mid, rcpt, state in conn.execute(select(d.c.message_id, d.c.recipient, d.c.state)
                                             .where(d.c.message_id.in_(ids)).order_by(d.c.id)):
            recipients.setdefault(mid, []).append((rcpt, int(state)))
        for mid, item in conn.execute(select(mi.c.message_id, mi.c.item_id).where(mi.c.message_id.in_(ids))
                                      .order_by(mi.c.item_id)):
            items.setdefault(mid, []).append(item)
    return [MessageRow(r.message_id, r.conversation_id, r.sender, r.document_type, r.accepted_us,
                       tuple(recipients.get(r.message_id, ())), tuple(items.get(r.message_id, ()))) for r in rows]


def items_of(conn: Connection, message_id: str) -> list[str]:
    mi = t.message_items
    return [r[0] for r in conn.execute(select(mi.c.item_id).where(mi.c.message_id == message_id)
                                       .order_by(mi.c.item_id))]


def delivery_counts(conn: Connection) -> tuple[dict[int, int], dict[str, int], list[RouteCounts]]:
    """One pass over the deliveries: counts per state, the queue (QUEUED and IN_FLIGHT) per recipient, and per
    route (a peer node, or "local") what waits, what is dead and the latest error."""
    d = t.deliveries
    by_state: dict[int, int] = {}
    queues: dict[str, int] = {}
    waiting: dict[str, int] = {}
    dead: dict[str, int] = {}
    for route, recipient, state, n in conn.execute(select(d.c.route, d.c.recipient, d.c.state, func.count())
                                                   .group_by(d.c.route, d.c.recipient, d.c.state)):
        state, n = int(state), int(n)
        by_state[state] = by_state.get(state, 0) + n
        if state in (QUEUED, IN_FLIGHT):
            queues[recipient] = queues.get(recipient, 0) + n
            waiting[route] = waiting.get(route, 0) + n
        elif state in (FAILED, EXPIRED):
            dead[route] = dead.get(route, 0) + n
    routes = []
    for route in sorted(set(waiting) | set(dead)):
        # The newest delivery of the route with an error (a backwards primary-key walk that stops at the first).
        err = conn.execute(select(d.c.last_error).where(d.c.route == route, d.c.last_error != "")
                           .order_by(d.c.id.desc()).limit(1)).scalar()
        routes.append(RouteCounts(route, waiting.get(route, 0), dead.get(route, 0), err or ""))
    return by_state, queues, routes


def message_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.messages)).scalar_one())


def throughput(conn: Connection, from_us: int, to_us: int, bucket_us: int) -> list[tuple[int, int, int]]:
    """(bucket start, messages accepted, deliveries delivered or acknowledged) per bucket of [from, to)."""
    m, d = t.messages, t.deliveries
    n = max(1, (to_us - from_us + bucket_us - 1) // bucket_us)
    accepted = [0] * n
    delivered = [0] * n
    b = (m.c.accepted_us - from_us) // bucket_us
    for i, count in conn.execute(select(b, func.count()).where(m.c.accepted_us >= from_us, m.c.accepted_us < to_us)
                                 .group_by(b)):
        accepted[int(i)] = int(count)
    b = (d.c.updated_us - from_us) // bucket_us
    for i, count in conn.execute(select(b, func.count()).where(d.c.state.in_([DELIVERED, ACKNOWLEDGED]),
                                                               d.c.updated_us >= from_us, d.c.updated_us < to_us)
                                 .group_by(b)):
        delivered[int(i)] = int(count)
    return [(from_us + i * bucket_us, accepted[i], delivered[i]) for i in range(n)]


REFUSAL_EVENTS = (audit.REFUSED, audit.FAILED, audit.EXPIRED, audit.DIRECTORY_REFUSED)


# How far back in the audit log the overview looks for refusals: a primary-key range, never the whole log.
REFUSAL_LOOKBACK = 20_000


def recent_refusals(conn: Connection, limit: int) -> list[audit.AuditEntry]:
    """The latest ``limit`` refusals and failures among the last REFUSAL_LOOKBACK audit entries, newest first."""
    a = t.audit_log
    head = conn.execute(select(func.max(a.c.seq))).scalar() or 0
    rows = conn.execute(select(a).where(a.c.seq > head - REFUSAL_LOOKBACK, a.c.event.in_(REFUSAL_EVENTS))
                        .order_by(a.c.seq.desc()).limit(limit)).all()
    return [audit.AuditEntry(r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail,
                             bytes(r.prev_hash), bytes(r.entry_hash)) for r in rows]


def audit_of(conn: Connection, message_id: str, limit: int = 1000) -> Sequence[audit.AuditEntry]:
    a = t.audit_log
    rows = conn.execute(select(a).where(a.c.message_id == message_id).order_by(a.c.seq).limit(limit)).all()
    return [audit.AuditEntry(r.seq, r.at_us, r.event, r.message_id, r.actor, r.subject, r.detail,
                             bytes(r.prev_hash), bytes(r.entry_hash)) for r in rows]
