"""The rows the KPIs are computed from (gateway.evidence.kpi computes them)."""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, select

import gateway.store.schema as t
from gateway.store.records import DeliveryFact, KpiItemRow


def kpi_items(conn: Connection, aed_type: str, from_us: int, to_us: int) -> list[KpiItemRow]:
    """Rows of every item whose first AED was accepted in [from_us, to_us), with all its facts."""
    k = t.kpi_items
    first_aed = (select(k.c.item_id).where(k.c.document_type == aed_type).group_by(k.c.item_id)
                 .having(and_(func.min(k.c.accepted_us) >= from_us, func.min(k.c.accepted_us) < to_us)))
    rows = conn.execute(select(k).where(k.c.item_id.in_(first_aed)).order_by(k.c.item_id, k.c.accepted_us)).all()
    return [KpiItemRow(r.message_id, r.item_id, r.document_type, r.sender, r.accepted_us, r.outcome,
                       r.arrival_us, r.departure_us) for r in rows]


def delivery_facts(conn: Connection, from_us: int, to_us: int) -> list[DeliveryFact]:
    """Deliveries of messages accepted in [from_us, to_us)."""
    d, m = t.deliveries, t.messages
    rows = conn.execute(select(m.c.sender, d.c.recipient, d.c.route, d.c.state, d.c.attempts,
                               m.c.accepted_us, d.c.updated_us)
                        .join(m, m.c.message_id == d.c.message_id)
                        .where(m.c.accepted_us >= from_us, m.c.accepted_us < to_us)).all()
    return [DeliveryFact(r.sender, r.recipient, r.route, r.state, r.attempts, r.accepted_us, r.updated_us)
            for r in rows]
