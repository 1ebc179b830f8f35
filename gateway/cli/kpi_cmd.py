"""`gateway kpi`: WCO E-Commerce FoS measurement from a node's database (docs/kpi.md)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from gateway.errors import GatewayError


def _date_us(text: str) -> int:
    d = dt.datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp() * 1_000_000)


def register(sub: Any) -> None:
    k = sub.add_parser("kpi", help="FoS KPIs per partner and period (table, CSV, JSON, chart)")
    k.add_argument("--config", required=True, metavar="FILE", help="node config TOML")
    k.add_argument("--from", dest="from_", metavar="DATE", help="ISO date/time, UTC unless given (default: 30 days ago)")
    k.add_argument("--to", metavar="DATE", help="ISO date/time, exclusive (default: now)")
    k.add_argument("--partner", default="", help="only this participant")
    k.add_argument("--period", choices=("day", "week", "month"), default="day")
    k.add_argument("--format", choices=("table", "csv", "json"), default="table")
    k.add_argument("--plot", metavar="FILE.png", help="chart of daily volumes and decision times (needs matplotlib)")
    k.set_defaults(func=_kpi)


def _kpi(args: Any) -> int:
    from gateway.evidence import kpi
    from gateway.config import load_node_config
    from gateway.store import Store

    cfg = load_node_config(args.config)
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1_000_000)
    try:
        frm = _date_us(args.from_) if args.from_ else now - 30 * 86_400_000_000
        to = _date_us(args.to) if args.to else now + 1
    except ValueError as exc:
        print(f"--from/--to: {exc}", file=sys.stderr)
        return 2
    store = Store(cfg.database_url)
    try:
        rows = kpi.compute(store, frm, to, args.period, args.partner)
        if args.plot:
            kpi.plot(rows, args.plot)
    except GatewayError as exc:
        print(f"{exc}", file=sys.stderr)
        for v in exc.violations:
            print(f"  {v}", file=sys.stderr)
        return 2
    finally:
        store.close()
    sys.stdout.write(kpi.render(rows, args.format))
    if args.plot:
        print(f"chart written to {args.plot}", file=sys.stderr)
    return 0
