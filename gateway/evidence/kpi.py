"""WCO E-Commerce FoS measurement: AED coverage and timeliness, customs decision times and outcomes,
refusals, delivery latency and retries, per partner and period. Definitions: docs/kpi.md.

The node stores only sealed envelopes, so ``facts_of`` picks the few plaintext facts the KPIs need
(item ids, event times, decision category) at accept time; they are stored in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from adapters import registry
from gateway.clock import timestamp_us
from gateway.evidence import audit
from gateway.api.swg.v1 import admin_pb2
from gateway.errors import FieldViolation, InvalidArgument
from gateway.store import KpiFact, Store
from gateway.store.states import ACKNOWLEDGED

PERIODS = ("day", "week", "month")
# Tracking events (codes as in EMSEVT; IPS exports carry them as EDI events) that the KPIs read:
# EMC = departure from the outward office of exchange (loading), EMD = arrival at the inward office of exchange.
DEPARTURE_CODES = frozenset({"EMC"})
ARRIVAL_CODES = frozenset({"EMD"})
# InspectionOutcome numbers → decision category; anything else counts as "other".
OUTCOMES = {1: "released", 8: "released", 2: "held", 3: "held", 4: "held", 5: "do_not_load", 6: "seized"}


def facts_of(document_type: str, doc: Message) -> tuple[KpiFact, ...]:
    """Per-item KPI facts of an accepted document (AED and inspection results; nothing for others)."""
    if document_type == registry.AED:
        out = []
        for item in doc.items:  # type: ignore[attr-defined]
            arrival = [timestamp_us(e.occurred_at) for e in item.events if e.code in ARRIVAL_CODES and e.HasField("occurred_at")]
            departure = [timestamp_us(e.occurred_at) for e in item.events
                         if e.code in DEPARTURE_CODES and e.HasField("occurred_at")]
            out.append(KpiFact(item.item_id, "", min(arrival, default=None), min(departure, default=None)))
        return tuple(out)
    if document_type == registry.INSPECTION:
        return tuple(KpiFact(r.item_id, OUTCOMES.get(int(r.outcome), "other"))
                     for r in doc.results)  # type: ignore[attr-defined]
    return ()


def period_start(at_us: int, period: str) -> int:
    d = dt.datetime.fromtimestamp(at_us / 1_000_000, dt.timezone.utc).date()
    if period == "week":
        d -= dt.timedelta(days=d.weekday())
    elif period == "month":
        d = d.replace(day=1)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p % of the values at or below it);
    NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


@dataclass
class Kpi:
    partner: str
    period_start_us: int
    items_with_aed: int = 0
    aed_lead_time_p50_s: float = math.nan
    pre_loading_share: float = math.nan
    decision_time_p50_s: float = math.nan
    decision_time_p90_s: float = math.nan
    decisions: int = 0
    released_share: float = math.nan
    held_share: float = math.nan
    do_not_load_share: float = math.nan
    seized_share: float = math.nan
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    delivery_latency_p50_s: float = math.nan
    delivery_latency_p99_s: float = math.nan
    retries: int = 0


@dataclass
class _Acc:
    items: int = 0
    lead: list[float] = field(default_factory=list)
    departures: int = 0
    preloaded: int = 0
    decision: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latency: list[float] = field(default_factory=list)
    retries: int = 0


def _check_args(from_us: int, to_us: int, period: str) -> None:
    problems = []
    if period not in PERIODS:
        problems.append(FieldViolation("period", f"must be one of {', '.join(PERIODS)}"))
    if to_us <= from_us:
        problems.append(FieldViolation("to", "must be after from"))
    if problems:
        raise InvalidArgument("invalid KPI query", violations=problems)


def compute(store: Store, from_us: int, to_us: int, period: str = "day", partner: str = "") -> list[Kpi]:
    """KPI rows for [from_us, to_us); items belong to the period of their first AED, deliveries to the
    period their message was accepted in, refusals to the period they happened in."""
    _check_args(from_us, to_us, period)
    acc: dict[tuple[str, int], _Acc] = defaultdict(_Acc)

    by_item: dict[str, list[Any]] = defaultdict(list)
    for row in store.kpi_items(registry.AED, from_us, to_us):
        by_item[row.item_id].append(row)
    for rows in by_item.values():
        aeds = [r for r in rows if r.document_type == registry.AED]
        first = min(aeds, key=lambda r: r.accepted_us)
        a = acc[(first.sender, period_start(first.accepted_us, period))]
        a.items += 1
        arrival = min((r.arrival_us for r in aeds if r.arrival_us is not None), default=None)
        departure = min((r.departure_us for r in aeds if r.departure_us is not None), default=None)
        if arrival is not None:
            a.lead.append((arrival - first.accepted_us) / 1e6)
        if departure is not None:
            a.departures += 1
            a.preloaded += first.accepted_us < departure
        decisions = sorted((r for r in rows if r.document_type == registry.INSPECTION
                            and r.accepted_us >= first.accepted_us), key=lambda r: r.accepted_us)
        if decisions:
            a.decision.append((decisions[0].accepted_us - first.accepted_us) / 1e6)
            a.outcomes[decisions[-1].outcome] += 1

    for e in store.audit_events_between(audit.REFUSED, from_us, to_us):
        try:
            d = json.loads(e.detail)
        except ValueError:
            d = {}
        # One row may stand for many refusals (gateway.evidence.audit.RefusalTally): its count says how many.
        count = d.get("count", 1)
        acc[(e.actor, period_start(e.at_us, period))].refused[f"{d.get('code', '?')}: {d.get('reason', '')}"] += (
            count if type(count) is int and count > 0 else 1)

    for f in store.delivery_facts(from_us, to_us):
        a = acc[(f.sender, period_start(f.accepted_us, period))]
        a.retries += max(f.attempts - 1, 0)
        if f.state == ACKNOWLEDGED:
            a.latency.append((f.updated_us - f.accepted_us) / 1e6)

    out = []
    for (who, start), a in sorted(acc.items()):
        if partner and who != partner:
            continue
        n_dec = len(a.decision)
        out.append(Kpi(
            partner=who, period_start_us=start, items_with_aed=a.items,
            aed_lead_time_p50_s=percentile(a.lead, 50), pre_loading_share=_share(a.preloaded, a.departures),
            decision_time_p50_s=percentile(a.decision, 50), decision_time_p90_s=percentile(a.decision, 90),
            decisions=n_dec, released_share=_share(a.outcomes["released"], n_dec),
            held_share=_share(a.outcomes["held"], n_dec), do_not_load_share=_share(a.outcomes["do_not_load"], n_dec),
            seized_share=_share(a.outcomes["seized"], n_dec), refused_by_reason=dict(a.refused),
            delivery_latency_p50_s=percentile(a.latency, 50), delivery_latency_p99_s=percentile(a.latency, 99),
            retries=a.retries))
    return out


# -- output ----------------------------------------------------------------------------------------

COLUMNS = ("partner", "period_start", "items_with_aed", "aed_lead_time_p50_s", "pre_loading_share",
           "decision_time_p50_s", "decision_time_p90_s", "decisions", "released_share", "held_share",
           "do_not_load_share", "seized_share", "refused", "delivery_latency_p50_s", "delivery_latency_p99_s",
           "retries")


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.timezone.utc).date().isoformat()


def _record(k: Kpi) -> dict[str, Any]:
    d = asdict(k)
    d.pop("period_start_us")
    d = {"period_start": _iso(k.period_start_us), **d}
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in d.items()}


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v == v else "-"
    if isinstance(v, dict):
        return "; ".join(f"{r}={n}" for r, n in sorted(v.items())) or "-"
    return str(v)


def render(rows: Iterable[Kpi], fmt: str) -> str:
    recs = [_record(k) for k in rows]
    if fmt == "json":
        return json.dumps(recs, indent=2, sort_keys=False) + "\n"
    # The table and CSV count refusals; their reasons are in --json (refused_by_reason).
    table = [[str(sum(r["refused_by_reason"].values())) if c == "refused" else _cell(r[c]) for c in COLUMNS]
             for r in recs]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([["" if x == "-" else x for x in row] for row in table])
        return buf.getvalue()
    widths = [max([len(c)] + [len(row[i]) for row in table]) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(COLUMNS))]
    lines += ["  ".join(x.ljust(widths[i]) for i, x in enumerate(row)) for row in table]
    return "\n".join(lines) + "\n"


# The figures that may have no data in a period (NaN here, absent in KpiRow).
MEASURED = ("aed_lead_time_p50_s", "pre_loading_share", "decision_time_p50_s", "decision_time_p90_s",
            "released_share", "held_share", "do_not_load_share", "seized_share", "delivery_latency_p50_s",
            "delivery_latency_p99_s")


def to_proto(rows: Iterable[Kpi]) -> list[admin_pb2.KpiRow]:
    out = []
    for k in rows:
        r = admin_pb2.KpiRow(partner=k.partner, period_start=Timestamp(seconds=k.period_start_us // 1_000_000),
                             items_with_aed=k.items_with_aed, retries=k.retries, decisions=k.decisions)
        for name in MEASURED:
            value = getattr(k, name)
            if not math.isnan(value):  # no data is an absent field on the wire, never NaN
                setattr(r, name, value)
        r.refused_by_reason.update(k.refused_by_reason)
        out.append(r)
    return out


def plot(rows: Sequence[Kpi], path: str) -> None:
    """Daily volumes (items with AED) and decision times (p50, p90) as a PNG; needs the ``plot`` extra."""
    fig = figure(rows)
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)


def figure(rows: Sequence[Kpi]) -> Any:
    """The chart of ``plot``: titled, axes with units, dates readable on the shared time axis."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidArgument("--plot needs matplotlib: pip install 'swg-gateway[plot]'") from None
    days = sorted({k.period_start_us for k in rows})
    x = [dt.datetime.fromtimestamp(d / 1e6, dt.timezone.utc) for d in days]
    volume = [sum(k.items_with_aed for k in rows if k.period_start_us == d) for d in days]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    span = f"{x[0]:%Y-%m-%d} to {x[-1]:%Y-%m-%d}" if x else "no data"
    fig.suptitle(f"WCO FoS KPIs per period, {span} (UTC)")
    ax1.bar(x, volume, width=0.8, color="tab:blue")
    ax1.set_title("Items with advance electronic data (AED)")
    ax1.set_ylabel("items per period")
    ax1.yaxis.get_major_locator().set_params(integer=True)
    for partner in sorted({k.partner for k in rows}):
        mine = [k for k in rows if k.partner == partner and k.decisions]
        if mine:
            px = [dt.datetime.fromtimestamp(k.period_start_us / 1e6, dt.timezone.utc) for k in mine]
            ax2.plot(px, [k.decision_time_p50_s / 3600 for k in mine], marker="o", label=f"{partner} median")
            ax2.plot(px, [k.decision_time_p90_s / 3600 for k in mine], marker="x", linestyle="--",
                     label=f"{partner} 90th percentile")
    ax2.set_title("Customs decision time (AED received to decision)")
    ax2.set_ylabel("hours")
    ax2.set_xlabel("period start (UTC)")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(loc="upper left", fontsize="small")
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]  # matplotlib leaves it unannotated
    for ax in (ax1, ax2):
        ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    return fig
