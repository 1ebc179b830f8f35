"""KPI figures for a scripted scenario with known timestamps equal hand-computed values (docs/kpi.md)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from adapters import registry
from gateway.evidence import audit
from gateway.evidence import kpi
from gateway.api.swg.v1 import inspection_pb2, item_pb2
from gateway.store import KpiFact, NewDelivery, NewMessage, ReceiptRecord, Store
from gateway.testing.documents import aed_batch, inspection, s10

T0 = int(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000  # a Monday, 00:00 UTC
H = 3_600_000_000
S = 1_000_000
FR_POST, DE_POST, CUSTOMS = "FR/POST/MAIN", "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
I1, I2, I3, I4, I5 = (s10(n, country="FR") for n in (11111111, 22222222, 33333333, 44444444, 55555555))


def _accept(store: Store, mid: str, sender: str, doc_type: str, at: int, facts: list[KpiFact],
            recipient: str = CUSTOMS) -> None:
    msg = NewMessage(
        message_id=mid, conversation_id=mid, in_reply_to="", sender=sender, document_type=doc_type,
        submit_sha256=None, envelope=b"sealed", envelope_sha256=bytes(32), created_us=at, expires_us=at + 100 * H,
        accepted_us=at, origin="local", attributes={}, item_ids=tuple(f.item_id for f in facts),
        deliveries=(NewDelivery(recipient, "local"),), audit_event=audit.AuditEvent(audit.ACCEPTED, mid, actor=sender),
        kpi_facts=tuple(facts))
    store.accept(msg).result()


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(f"sqlite:///{tmp_path / 'kpi.db'}")
    s.create_schema()
    yield s
    s.close()


def scenario(store: Store) -> None:
    # Day 1, FR post: AED for I1 (loaded after the AED, arrives 10 h after it), I2 (loaded before the AED),
    # I3 (no events).
    _accept(store, "m1", FR_POST, registry.AED, T0 + H, [
        KpiFact(I1, arrival_us=T0 + 11 * H, departure_us=T0 + 3 * H),
        KpiFact(I2, arrival_us=T0 + 5 * H, departure_us=T0 + H // 2), KpiFact(I3)])
    # Customs decides: I1 released and I2 seized after 2 h; I3 held after 4 h, released after 5 h.
    _accept(store, "m2", CUSTOMS, registry.INSPECTION, T0 + 3 * H,
            [KpiFact(I1, "released"), KpiFact(I2, "seized")], recipient=FR_POST)
    _accept(store, "m3", CUSTOMS, registry.INSPECTION, T0 + 5 * H, [KpiFact(I3, "held")], recipient=FR_POST)
    _accept(store, "m4", CUSTOMS, registry.INSPECTION, T0 + 6 * H, [KpiFact(I3, "released")], recipient=FR_POST)
    # m1 is handed out twice (one retry), then acknowledged 30 s after it was accepted.
    store.claim(recipient=CUSTOMS, route="local", owner="a", limit=10, now_us=T0 + H,
                lease_us=1).result()
    store.claim(recipient=CUSTOMS, route="local", owner="b", limit=10, now_us=T0 + H + 10 * S,
                lease_us=60 * S).result()
    store.acknowledge(CUSTOMS, [ReceiptRecord("m1", CUSTOMS, "acknowledged", "jws", bytes(32),
                                              T0 + H, "de-node")],
                      [audit.AuditEvent(audit.ACKNOWLEDGED, "m1", actor=CUSTOMS)], T0 + H + 30 * S).result()
    # Two refused submits of the FR post.
    refused = audit.AuditEvent(audit.REFUSED, actor=FR_POST, detail={"code": "INVALID_ARGUMENT",
                                                                      "reason": "unknown format"})
    store.append_audit([refused, refused], T0 + 2 * H).result()
    # Day 2, FR post: one more item, no decision yet.
    _accept(store, "m5", FR_POST, registry.AED, T0 + 25 * H, [KpiFact(I4)])
    # Day 1, DE post: I5, do-not-load after 10 minutes.
    _accept(store, "m6", DE_POST, registry.AED, T0 + 2 * H, [KpiFact(I5)])
    _accept(store, "m7", CUSTOMS, registry.INSPECTION, T0 + 2 * H + 600 * S, [KpiFact(I5, "do_not_load")],
            recipient=DE_POST)


def test_daily_kpis_equal_hand_computed_values(store: Store) -> None:
    scenario(store)
    rows = {(k.partner, k.period_start_us): k for k in kpi.compute(store, T0, T0 + 7 * 24 * H, "day")}
    fr1 = rows[(FR_POST, T0)]
    assert fr1.items_with_aed == 3
    assert fr1.aed_lead_time_p50_s == 4 * 3600  # lead times 36000 s and 14400 s; nearest-rank median
    assert fr1.pre_loading_share == 0.5  # I1 before loading, I2 after; I3 unknown
    assert fr1.decisions == 3
    assert fr1.decision_time_p50_s == 2 * 3600  # 7200, 7200, 14400
    assert fr1.decision_time_p90_s == 4 * 3600
    assert fr1.released_share == pytest.approx(2 / 3)  # the latest decision counts: I3 ends released
    assert fr1.seized_share == pytest.approx(1 / 3)
    assert fr1.held_share == 0 and fr1.do_not_load_share == 0
    assert fr1.refused_by_reason == {"INVALID_ARGUMENT: unknown format": 2}
    assert fr1.delivery_latency_p50_s == 30 and fr1.delivery_latency_p99_s == 30
    assert fr1.retries == 1

    fr2 = rows[(FR_POST, T0 + 24 * H)]
    assert fr2.items_with_aed == 1 and fr2.decisions == 0
    assert math.isnan(fr2.decision_time_p50_s) and math.isnan(fr2.released_share)

    de1 = rows[(DE_POST, T0)]
    assert (de1.items_with_aed, de1.decision_time_p50_s, de1.do_not_load_share) == (1, 600, 1.0)


def test_weekly_period_partner_filter_and_outputs(store: Store) -> None:
    scenario(store)
    [week] = kpi.compute(store, T0, T0 + 7 * 24 * H, "week", partner=FR_POST)
    assert (week.period_start_us, week.items_with_aed, week.decisions) == (T0, 4, 3)
    csv_text = kpi.render([week], "csv")
    assert csv_text.splitlines()[0].startswith("partner,period_start,items_with_aed")
    assert csv_text.splitlines()[1].startswith(f"{FR_POST},2026-03-02,4,")
    assert '"items_with_aed": 4' in kpi.render([week], "json")
    assert FR_POST in kpi.render([week], "table")
    header, row = kpi.render([week], "table").splitlines()
    refused_at = header.split().index("refused")
    assert row.split()[refused_at] == "2", "the table counts refusals; --json has the reasons"
    assert '"INVALID_ARGUMENT: unknown format": 2' in kpi.render([week], "json")
    [proto] = kpi.to_proto([week])
    assert proto.items_with_aed == 4 and proto.refused_by_reason["INVALID_ARGUMENT: unknown format"] == 2


def test_bad_period_is_a_clear_error(store: Store) -> None:
    with pytest.raises(Exception) as exc:
        kpi.compute(store, T0, T0 + H, "year")
    assert exc.value.violations[0].field == "period"  # type: ignore[attr-defined]


def test_facts_are_taken_from_tracking_events_and_decision_outcomes() -> None:
    batch = aed_batch(1)
    ev = batch.items[0].events
    ev.add(scheme=item_pb2.EVENT_SCHEME_EMSEVT, code="EMC", occurred_at=Timestamp(seconds=100))
    ev.add(scheme=item_pb2.EVENT_SCHEME_EMSEVT, code="EMD", occurred_at=Timestamp(seconds=500))
    ev.add(scheme=item_pb2.EVENT_SCHEME_EMSEVT, code="EMD", occurred_at=Timestamp(seconds=300))
    [fact] = kpi.facts_of(registry.AED, batch)
    assert fact == KpiFact(batch.items[0].item_id, "", 300 * S, 100 * S)
    facts = kpi.facts_of(registry.INSPECTION, inspection([I1, I2], inspection_pb2.INSPECTION_OUTCOME_SEIZE))
    assert [f.outcome for f in facts] == ["seized", "seized"]


def test_the_kpi_chart_is_titled_with_units_and_written_as_png(store: Store, tmp_path: Path) -> None:
    scenario(store)
    rows = kpi.compute(store, T0, T0 + 7 * 24 * H, "day")
    fig = kpi.figure(rows)
    top, bottom = fig.axes
    assert fig._suptitle.get_text().startswith("WCO FoS KPIs per period, 2026-03-02")
    assert (top.get_title(), top.get_ylabel()) == ("Items with advance electronic data (AED)", "items per period")
    assert bottom.get_ylabel() == "hours" and bottom.get_xlabel() == "period start (UTC)"
    assert any("median" in t.get_text() for t in bottom.get_legend().get_texts())
    out = tmp_path / "kpi.png"
    kpi.plot(rows, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_aggregated_refusal_row_counts_as_many_refusals_as_it_says(store: Store) -> None:
    # gateway.evidence.audit.RefusalTally writes the first refusal of a window, then one row with the rest.
    first = audit.AuditEvent(audit.REFUSED, actor=FR_POST, detail={"code": "RESOURCE_EXHAUSTED", "reason": "rate",
                                                                    "count": 1})
    rest = audit.AuditEvent(audit.REFUSED, actor=FR_POST, detail={"code": "RESOURCE_EXHAUSTED", "reason": "rate",
                                                                   "count": 3599, "aggregated": True})
    store.append_audit([first, rest], T0 + H).result()
    [day] = kpi.compute(store, T0, T0 + 24 * H, "day", partner=FR_POST)
    assert day.refused_by_reason == {"RESOURCE_EXHAUSTED: rate": 3600}
