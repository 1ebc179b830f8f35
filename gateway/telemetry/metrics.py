"""Prometheus metrics of one node, on a registry of its own (tests run several nodes in one process).

Instrumented code calls the small methods below in one line; ``serve`` exposes the registry on
``[node] metrics_listen``. Queue depth is collected at scrape time from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# From a millisecond to a day: submit is fast, end-to-end waits for a recipient to come and fetch.
_SUBMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DELIVERY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)


class _QueueDepth(Collector):
    def __init__(self, depths: Callable[[], dict[str, int]]):
        self._depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("swg_queue_depth", "Deliveries queued or in flight, per recipient",
                              labels=["recipient"])
        try:
            for recipient, n in sorted(self._depths().items()):
                g.add_metric([recipient], n)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is briefly busy
            pass
        yield g


class _Stamps(Collector):
    def __init__(self, read: Callable[[], tuple[int, float]]):
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            waiting, age = self._read()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is briefly busy
            return
        yield GaugeMetricFamily("swg_audit_stamps_waiting", "Signed audit checkpoints waiting for an RFC 3161 "
                                "time-stamp (TSA down or answering wrong)", value=waiting)
        yield GaugeMetricFamily("swg_audit_stamp_age_seconds", "Seconds since the genTime of the newest "
                                "checkpoint time-stamp (before the first: how long the oldest checkpoint waits)",
                                value=age)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.submits = Counter("swg_submits", "Submitted documents by document type and outcome",
                               ["document_type", "outcome"], registry=r)
        self.deliveries = Counter("swg_deliveries", "Deliveries handed out (delivered) and acknowledged",
                                  ["outcome"], registry=r)
        self.failures = Counter("swg_failures", "Failed deliveries and refused submits by reason", ["reason"],
                                registry=r)
        self.retries = Counter("swg_retries", "Deliveries handed out again (attempt > 1)", registry=r)
        self.relayed = Counter("swg_relay", "Envelopes relayed to peer nodes by peer and outcome "
                               "(relayed, put_back for a retry, failed permanently)", ["peer", "outcome"], registry=r)
        self.link_down = Counter("swg_peer_link_down", "Times a peer link went down (each followed by backoff)",
                                 ["peer"], registry=r)
        self.link_up = Gauge("swg_peer_link_up", "1 while the link to a peer node works, 0 while it is down "
                             "(unreachable, refusing, or hung beyond [peering] hang_timeout_s)", ["peer"], registry=r)
        self.submit_seconds = Histogram("swg_submit_seconds", "Submit handling time until durable",
                                        buckets=_SUBMIT_BUCKETS, registry=r)
        self.delivery_seconds = Histogram("swg_delivery_seconds", "Accepted to acknowledged",
                                          buckets=_DELIVERY_BUCKETS, registry=r)
        self.storage_full_gauge = Gauge("swg_storage_full", "1 while writes are refused because the node's "
                                        "storage is full (health NOT_SERVING), else 0", registry=r)
        self._server: Any = None
        self._watching = False
        self._watching_stamps = False

    def watch_stamps(self, read: Callable[[], tuple[int, float]]) -> None:
        """``read``: (checkpoints waiting for a time-stamp, age of the newest stamp in seconds)."""
        if not self._watching_stamps:
            self.registry.register(_Stamps(read))
            self._watching_stamps = True

    def watch_queues(self, depths: Callable[[], dict[str, int]]) -> None:
        if not self._watching:
            self.registry.register(_QueueDepth(depths))
            self._watching = True

    # one-line instrumentation calls

    def accepted(self, document_type: str, seconds: float, duplicate: bool = False) -> None:
        self.submits.labels(document_type, "duplicate" if duplicate else "accepted").inc()
        self.submit_seconds.observe(seconds)

    def storage_full(self, full: bool) -> None:
        self.storage_full_gauge.set(1 if full else 0)

    def refused(self, code: str) -> None:
        self.submits.labels("", "refused").inc()
        self.failures.labels(f"refused:{code}").inc()

    def delivered(self, attempt: int) -> None:
        self.deliveries.labels("delivered").inc()
        if attempt > 1:
            self.retries.inc()

    def acknowledged(self, seconds: float) -> None:
        self.deliveries.labels("acknowledged").inc()
        self.delivery_seconds.observe(max(seconds, 0.0))

    def failed(self, reason: str) -> None:
        self.failures.labels(reason).inc()

    def relay(self, peer: str, outcome: str, n: int = 1) -> None:
        self.relayed.labels(peer, outcome).inc(n)
        if outcome == "failed":
            self.failures.labels(f"relay_refused:{peer}").inc(n)

    def peer_down(self, peer: str) -> None:
        self.link_down.labels(peer).inc()
        self.link_up.labels(peer).set(0)

    def peer_up(self, peer: str) -> None:
        self.link_up.labels(peer).set(1)

    # HTTP endpoint

    def serve(self, listen: str) -> int:
        host, port = listen.rsplit(":", 1)
        self._server, _ = start_http_server(int(port), addr=host.strip("[]"), registry=self.registry)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
