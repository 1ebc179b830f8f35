"""The console's Starlette application: sign-in, roles, CSRF, and one handler per page.

Sessions are Starlette's SessionMiddleware (an itsdangerous-signed cookie: HttpOnly, SameSite=Strict, Secure
when the console serves TLS). Every POST carries the session's CSRF token; a POST without it is refused (403)
before anything else happens. Handlers are plain functions: Starlette runs them in its thread pool, where the
blocking gRPC calls to the node belong.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from google.protobuf.timestamp_pb2 import Timestamp
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.api.swg.v1 import exchange_pb2
from gateway.console.charts import bar_chart
from gateway.console.node_api import NodeApi, NodeError
from gateway.console.users import User, Users

log = structlog.get_logger("gateway.console")
HERE = Path(__file__).parent
SESSION_COOKIE = "swg_console"
SESSION_MAX_AGE_S = 8 * 3600
STATES = {name.removeprefix("DELIVERY_STATE_"): number for name, number in exchange_pb2.DeliveryState.items()
          if number}
STATE_NAMES = {v: k for k, v in STATES.items()}
EVENT_NAMES = {number: name.removeprefix("ITEM_EVENT_KIND_").replace("_", " ").lower()
               for name, number in exchange_pb2.ItemEventKind.items()}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(t: Timestamp) -> str:
    if t.seconds == 0 and t.nanos == 0:
        return ""
    return dt.datetime.fromtimestamp(t.seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Console:
    def __init__(self, api: NodeApi, users: Users, *, tls: bool):
        self.api = api
        self.users = users
        self.tls = tls
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
        self.env.filters["when"] = _when
        self.env.filters["state"] = lambda n: STATE_NAMES.get(int(n), str(n))
        self.env.filters["event"] = lambda n: EVENT_NAMES.get(int(n), str(n))

    # -- plumbing -----------------------------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        user = self.user(request)
        html = self.env.get_template(name).render(user=user, csrf=request.session.get("csrf", ""),
                                                   path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def user(self, request: Request) -> User | None:
        name = request.session.get("user")
        return self.users.users.get(name) if isinstance(name, str) else None

    def audit(self, request: Request, action: str, **fields: Any) -> None:
        user = self.user(request)
        log.info("console action", action=action, operator=user.name if user else "", role=user.role if user else "",
                 client=request.client.host if request.client else "", **fields)


def _signed_in(console: Console, handler: Callable[[Console, Request], Response], action: str | None = None,
               post: bool = False) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        user = console.user(request)
        if post:
            form = await request.form()
            token = form.get("csrf")
            expected = request.session.get("csrf")
            if not isinstance(token, str) or not isinstance(expected, str) or not secrets.compare_digest(
                    token, expected):
                console.audit(request, "csrf_refused", path=request.url.path)
                return console.render(request, "error.html", 403, title="Refused",
                                      message="This form has expired or did not come from this console "
                                              "(missing or wrong CSRF token). Reload the page and try again.")
            request.state.form = form
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        if action is not None and not user.may(action):
            console.audit(request, "forbidden", wanted=action, path=request.url.path)
            return console.render(request, "error.html", 403, title="Not allowed",
                                  message=f"Your role ({user.role}) may not {action}.")
        from starlette.concurrency import run_in_threadpool
        try:
            return await run_in_threadpool(handler, console, request)
        except NodeError as err:
            return console.render(request, "error.html", 502 if err.code == "UNAVAILABLE" else 400,
                                  title=f"The node answered {err.code}", message=err.message)
    return endpoint


# -- sign-in ---------------------------------------------------------------------------------------

async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return console.render(request, "login.html", title="Sign in", next=_safe_next(request.query_params.get("next", "/")), error="")


def _safe_next(target: str) -> str:
    # Only a path on this console: never an absolute or scheme-relative URL (open redirect).
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


async def login_post(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    console: Console = request.app.state.console
    form = await request.form()
    token, expected = form.get("csrf"), request.session.get("csrf")
    if not isinstance(token, str) or not isinstance(expected, str) or not secrets.compare_digest(token, expected):
        return console.render(request, "error.html", 403, title="Refused",
                              message="The sign-in form has expired (missing or wrong CSRF token). Reload it.")
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    user = await run_in_threadpool(console.users.authenticate, name, password)
    if user is None:
        log.warning("console sign-in refused", operator=name,
                    client=request.client.host if request.client else "")
        return console.render(request, "login.html", 401, title="Sign in", next=_safe_next(str(form.get("next", "/"))),
                              error="Unknown user or wrong password.")
    request.session.clear()  # a fresh session (and CSRF token) per sign-in
    request.session.update(user=user.name, csrf=secrets.token_urlsafe(32))
    console.audit(request, "sign_in")
    return RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)


def logout(console: Console, request: Request) -> Response:
    console.audit(request, "sign_out")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- pages -----------------------------------------------------------------------------------------

def overview(console: Console, request: Request) -> Response:
    health = console.api.health()
    o = console.api.overview()
    labels = [_when(b.start)[11:16] for b in o.throughput]
    chart = bar_chart(labels, [("accepted", [b.accepted for b in o.throughput], "#2b6cb0"),
                               ("delivered", [b.delivered for b in o.throughput], "#38a169")],
                      title="Messages per minute, last hour")
    return console.render(request, "overview.html", title="Overview", health=health, o=o, chart=chart,
                          total_queued=sum(q.depth for q in o.queues))


def messages(console: Console, request: Request) -> Response:
    q = request.query_params
    filters: dict[str, Any] = {k: q.get(k, "").strip() for k in
                               ("item_id", "message_id", "conversation_id", "participant", "document_type")}
    state = q.get("state", "")
    if state in STATES:
        filters["state"] = STATES[state]
    page = q.get("page", "")
    resp = console.api.search(**{k: v for k, v in filters.items() if v}, page_token=page, limit=50)
    item = filters["item_id"].upper()
    timeline = console.api.track([item]).items[0] if item and resp.messages else None
    nxt = ""
    if resp.next_page_token:
        nxt = "/messages?" + urlencode({**{k: v for k, v in q.items() if k != "page"}, "page": resp.next_page_token})
    return console.render(request, "messages.html", title="Messages", q=q, states=list(STATES), rows=resp.messages,
                          next_url=nxt, timeline=timeline)


def message(console: Console, request: Request) -> Response:
    m = console.api.message(request.path_params["message_id"])
    return console.render(request, "message.html", title=f"Message {m.status.message_id}", m=m)


def evidence_export(console: Console, request: Request) -> Response:
    user = console.user(request)
    assert user is not None
    mid = request.path_params["message_id"]
    bundle = console.api.export_evidence(mid, user.name)
    console.audit(request, "export_evidence", message_id=mid)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in mid)
    return Response(bundle, media_type="application/zip",
                    headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="evidence-{safe}.zip"'})


def items(console: Console, request: Request) -> Response:
    item = request.query_params.get("item_id", "").strip().upper()
    timeline = console.api.track([item]).items[0] if item else None
    return console.render(request, "items.html", title="Items", item=item, timeline=timeline)


def dead_letters(console: Console, request: Request) -> Response:
    resp = console.api.dead_letters(request.query_params.get("recipient", "").strip())
    return console.render(request, "dead_letters.html", title="Dead letters", rows=resp.deliveries,
                          notice=request.query_params.get("notice", ""))


def retry(console: Console, request: Request) -> Response:
    form = request.state.form
    ids = [str(v) for v in form.getlist("message_id") if str(v)]
    if not ids:
        return console.render(request, "error.html", 400, title="Nothing selected",
                              message="Select at least one dead letter to retry.")
    if form.get("confirm") != "yes":
        return console.render(request, "retry_confirm.html", title="Confirm retry", ids=ids)
    user = console.user(request)
    assert user is not None
    n = console.api.retry(ids, user.name)
    console.audit(request, "retry", message_ids=ids, requeued=n)
    return RedirectResponse("/dead-letters?" + urlencode({"notice": f"{n} delivery(ies) put back in the queue"}),
                            status_code=303)


KPI_COLUMNS = ("partner", "period_start", "items_with_aed", "aed_lead_time_p50_s", "pre_loading_share",
               "decision_time_p50_s", "decision_time_p90_s", "released_share", "held_share", "do_not_load_share",
               "seized_share", "delivery_latency_p50_s", "delivery_latency_p99_s", "retries", "decisions")


def _kpi_query(request: Request) -> tuple[str, str, str, str, int, int]:
    q = request.query_params
    today = dt.datetime.now(dt.timezone.utc).date()
    try:
        frm = dt.date.fromisoformat(q.get("from", "")) if q.get("from") else today - dt.timedelta(days=30)
        to = dt.date.fromisoformat(q.get("to", "")) if q.get("to") else today
    except ValueError:
        frm, to = today - dt.timedelta(days=30), today
    period = q.get("period", "day") if q.get("period") in ("day", "week", "month") else "day"
    partner = q.get("partner", "").strip()

    def us(d: dt.date) -> int:
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
    return frm.isoformat(), to.isoformat(), period, partner, us(frm), us(to + dt.timedelta(days=1))


def _kpi_cells(row: Any) -> list[str]:
    out = []
    for c in KPI_COLUMNS:
        if c == "period_start":
            out.append(_when(row.period_start)[:10])
        elif c in ("partner", "items_with_aed", "retries", "decisions") or row.HasField(c):
            v = getattr(row, c)
            out.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        else:
            out.append("")  # no data for it in the period: absent, not 0
    return out


def kpis(console: Console, request: Request) -> Response:
    frm, to, period, partner, frm_us, to_us = _kpi_query(request)
    rows = list(console.api.kpis(frm_us, to_us, period, partner).rows)
    per_period: dict[str, list[Any]] = {}
    for r in rows:
        per_period.setdefault(_when(r.period_start)[:10], []).append(r)
    labels = sorted(per_period)
    volumes = bar_chart(labels, [("items with AED", [sum(r.items_with_aed for r in per_period[k]) for k in labels],
                                  "#2b6cb0"),
                                 ("decisions", [sum(r.decisions for r in per_period[k]) for k in labels], "#dd6b20")],
                        title=f"Volumes per {period}")
    p50 = [max([r.decision_time_p50_s for r in per_period[k] if r.HasField("decision_time_p50_s")] or [0])
           for k in labels]
    times = bar_chart(labels, [("decision time p50 (s)", [round(v) for v in p50], "#805ad5")],
                      title="Decision time, median (s, worst partner)")
    csv_url = "/kpis.csv?" + urlencode({"from": frm, "to": to, "period": period, "partner": partner})
    return console.render(request, "kpis.html", title="KPIs", frm=frm, to=to, period=period, partner=partner,
                          columns=KPI_COLUMNS, rows=[_kpi_cells(r) for r in rows], volumes=volumes, times=times,
                          csv_url=csv_url)


def kpis_csv(console: Console, request: Request) -> Response:
    import csv
    import io
    frm, to, period, partner, frm_us, to_us = _kpi_query(request)
    rows = console.api.kpis(frm_us, to_us, period, partner).rows
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(KPI_COLUMNS)
    for r in rows:
        w.writerow(_kpi_cells(r))
    return Response(buf.getvalue(), media_type="text/csv", headers={
        **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="kpis-{frm}-{to}-{period}.csv"'})


def evidence(console: Console, request: Request) -> Response:
    return console.render(request, "evidence.html", title="Evidence", result=None)


def verify(console: Console, request: Request) -> Response:
    result = console.api.verify_audit()
    console.audit(request, "verify_audit", ok=result.ok)
    return console.render(request, "evidence.html", title="Evidence", result=result)


def directory(console: Console, request: Request) -> Response:
    d = console.api.directory()
    return console.render(request, "directory.html", title="Directory", d=d,
                          text=d.directory.decode("utf-8", "replace"))


def assistance(console: Console, request: Request) -> Response:
    try:
        cases, problem = list(console.api.assistance().cases), ""
    except NodeError as err:  # e.g. the console's profile lacks the assist scope
        cases, problem = [], f"The node answered {err.code}: {err.message}"
    return console.render(request, "assistance.html", title="Assistance", cases=cases, problem=problem)


def create_app(api: NodeApi, users: Users, *, secret_key: str, tls: bool = False) -> Starlette:
    console = Console(api, users, tls=tls)

    def page(handler: Callable[[Console, Request], Response], action: str | None = None,
             post: bool = False) -> Callable[[Request], Any]:
        return _signed_in(console, handler, action, post)

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", page(logout, post=True), methods=["POST"]),
        Route("/", page(overview)),
        Route("/messages", page(messages)),
        Route("/messages/{message_id:path}/evidence", page(evidence_export, "export", post=True), methods=["POST"]),
        Route("/messages/{message_id:path}", page(message)),
        Route("/items", page(items)),
        Route("/dead-letters", page(dead_letters)),
        Route("/dead-letters/retry", page(retry, "retry", post=True), methods=["POST"]),
        Route("/evidence", page(evidence)),
        Route("/evidence/verify", page(verify, "verify", post=True), methods=["POST"]),
        Route("/directory", page(directory)),
        Route("/kpis", page(kpis)),
        Route("/kpis.csv", page(kpis_csv)),
        Route("/assistance", page(assistance)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret_key, session_cookie=SESSION_COOKIE,
                             max_age=SESSION_MAX_AGE_S, same_site="strict", https_only=tls)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
