"""Mutual assistance case metadata: a request, its deadline, and the answer that closed it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

import gateway.store.schema as t
from gateway.store.engine import WriteOp
from gateway.store.records import AssistanceCaseRecord


def open_case(case: AssistanceCaseRecord) -> WriteOp[None]:
    def op(conn: Connection) -> None:
        a = t.assistance_cases
        if conn.execute(select(a.c.request_message_id)
                        .where(a.c.request_message_id == case.request_message_id)).first() is None:
            conn.execute(insert(a).values(**case.__dict__))
    return op


def answered(request_message_id: str, answer_message_id: str, at_us: int) -> WriteOp[None]:
    def op(conn: Connection) -> None:
        a = t.assistance_cases
        conn.execute(update(a).where(a.c.request_message_id == request_message_id, a.c.answer_message_id == "")
                     .values(answer_message_id=answer_message_id, answered_us=at_us))
    return op


def _record(r: Any) -> AssistanceCaseRecord:
    return AssistanceCaseRecord(r.request_message_id, r.conversation_id, r.requesting_administration,
                                r.requested_administration, r.agreement_reference, r.requested_us,
                                r.deadline_us, r.answer_message_id, r.answered_us)


def cases(conn: Connection, participant: str, only_open: bool) -> list[AssistanceCaseRecord]:
    a = t.assistance_cases
    cond = [or_(a.c.requesting_administration == participant, a.c.requested_administration == participant)]
    if only_open:
        cond.append(a.c.answer_message_id == "")
    rows = conn.execute(select(a).where(*cond).order_by(a.c.deadline_us)).all()
    return [_record(r) for r in rows]


def case(conn: Connection, request_message_id: str) -> AssistanceCaseRecord | None:
    """The case a request opened, or None if ``request_message_id`` opened none here."""
    a = t.assistance_cases
    row = conn.execute(select(a).where(a.c.request_message_id == request_message_id)).first()
    return None if row is None else _record(row)
