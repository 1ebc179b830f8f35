"""The load generator: one process, grpc.aio, many calls in flight; runs one scenario and prints JSON.

``python -m bench.loadgen SPEC.json``. The spec (written by ``bench.run``) names the server address,
the server's pid (for its CPU time and RSS), the participants' client certificates and tokens, and the
load. Progress goes to stderr once a second; the last line of stdout is the result.

Latency is measured per item from the moment its request was due (open loop: the scheduled time, so a
slow server cannot hide its queueing) or sent (closed loop) to the moment its answer arrived.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from bench import procstat
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.documents import Documents, large_itmatt
from gateway.api.swg.v1 import exchange_pb2, exchange_pb2_grpc

ECHO_METHOD = "/swg.bench.v1.Echo/Echo"
ECHO_STREAM_METHOD = "/swg.bench.v1.Echo/EchoStream"
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024),
                   ("grpc.max_send_message_length", 16 * 1024 * 1024)]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


@dataclass
class Meter:
    """Completed items and their latencies, counted only inside the measurement window."""

    server_pid: int
    window_start: float = 0.0
    window_end: float = float("inf")
    latencies: list[float] = field(default_factory=list)
    done: int = 0
    done_total: int = 0
    errors: int = 0
    first_error: str = ""
    rss_max: float = 0.0
    cpu_start: float = 0.0
    cpu_end: float = 0.0

    def record(self, started: float, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self.done_total += 1
        if self.window_start <= now <= self.window_end:
            self.done += 1
            self.latencies.append(now - started)

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what[:300]

    def open_window(self) -> None:
        self.window_start = time.perf_counter()
        self.cpu_start = procstat.cpu_seconds(self.server_pid)

    def close_window(self) -> None:
        self.window_end = time.perf_counter()
        self.cpu_end = procstat.cpu_seconds(self.server_pid)

    def result(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        seconds = max(1e-9, self.window_end - self.window_start)
        return {
            "items": self.done, "seconds": round(seconds, 3), "items_per_s": round(self.done / seconds, 1),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 2), "p95_ms": round(percentile(lat, 0.95) * 1000, 2),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "cpu_ms_per_item": round((self.cpu_end - self.cpu_start) * 1000 / max(1, self.done), 3),
            "rss_mb": round(self.rss_max, 1), "errors": self.errors, "first_error": self.first_error,
        }


class Load:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.meter = Meter(int(spec["server_pid"]))
        self.docs = Documents()
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.stop_at = 0.0
        self.max_items = int(spec.get("items", 0)) or None
        self.sent = 0

    def channel(self, participant: str, i: int = 0) -> grpc.aio.Channel:
        """The participant's ``i``-th connection (mod ``connections``): several TCP connections let the
        kernel spread the load over a node's worker processes (SO_REUSEPORT balances connections)."""
        key = f"{participant}#{i % max(1, int(self.spec.get('connections', 1)))}"
        if key not in self.channels:
            p = self.spec["participants"][participant]
            creds = grpc.ssl_channel_credentials(
                root_certificates=Path(self.spec["ca"]).read_bytes(), private_key=Path(p["key"]).read_bytes(),
                certificate_chain=Path(p["cert"]).read_bytes())
            # A distinct option per channel keeps gRPC from sharing one connection among them.
            self.channels[key] = grpc.aio.secure_channel(
                self.spec["address"], creds, options=CHANNEL_OPTIONS + [("swg.bench.channel", key)])
        return self.channels[key]

    def metadata(self, participant: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.spec['participants'][participant]['token']}"),)

    def exchange(self, participant: str, i: int = 0) -> exchange_pb2_grpc.ExchangeStub:
        return exchange_pb2_grpc.ExchangeStub(self.channel(participant, i))

    def request(self) -> exchange_pb2.SubmitRequest:
        return exchange_pb2.SubmitRequest(format="upu.itmatt.v1", content=self.docs.next())

    def running(self) -> bool:
        if self.max_items is not None:
            return self.sent < self.max_items
        return time.perf_counter() < self.stop_at

    async def progress(self, label: str) -> None:
        last, t_last = 0, time.perf_counter()
        t0 = t_last
        while True:
            await asyncio.sleep(1.0)
            self.meter.rss_max = max(self.meter.rss_max, procstat.rss_mb(self.meter.server_pid))
            now = time.perf_counter()
            n = self.meter.done_total
            print(f"  {label}: {now - t0:5.1f} s  {n:8d} done  {(n - last) / (now - t_last):8.0f}/s  "
                  f"errors {self.meter.errors}", file=sys.stderr, flush=True)
            last, t_last = n, now

    async def timed(self, body: Callable[[], Awaitable[None]], extra_s: float = 0.0) -> None:
        """Runs ``body`` with a warm-up, then the measurement window, while printing progress."""
        warmup, duration = float(self.spec["warmup_s"]), float(self.spec["duration_s"])
        start = time.perf_counter()
        self.stop_at = start + warmup + duration
        ticker = asyncio.create_task(self.progress(self.spec["scenario"]))

        async def window() -> None:
            await asyncio.sleep(warmup)
            self.meter.open_window()
            await asyncio.sleep(duration)
            self.meter.close_window()

        try:
            await asyncio.gather(body(), window())
        finally:
            ticker.cancel()
        self.meter.rss_max = max(self.meter.rss_max, procstat.rss_mb(self.meter.server_pid))

    # --- scenarios ---------------------------------------------------------------------------------------

    async def closed_loop(self, call: Callable[[int], Awaitable[None]]) -> None:
        async def worker(i: int) -> None:
            while self.running():
                t0 = time.perf_counter()
                try:
                    await call(i)
                except grpc.RpcError as exc:
                    self.meter.error(f"{exc.code().name}: {exc.details()}")
                    continue
                self.meter.record(t0)

        await asyncio.gather(*(worker(i) for i in range(int(self.spec["concurrency"]))))

    async def echo(self) -> None:
        n = max(1, int(self.spec.get("connections", 1)))
        echoes = [self.channel(self.spec["sender"], i).unary_unary(ECHO_METHOD) for i in range(n)]
        md = self.metadata(self.spec["sender"])

        async def call(i: int) -> None:
            await echoes[i % n](self.request().SerializeToString(), metadata=md, timeout=30)

        await self.timed(lambda: self.closed_loop(call))

    async def echo_stream(self) -> None:
        await self.timed(lambda: self._stream_submits(lambda _resp, t0: self.meter.record(t0), echo=True))

    async def submit_unary(self) -> None:
        n = max(1, int(self.spec.get("connections", 1)))
        stubs, md = [self.exchange(self.spec["sender"], i) for i in range(n)], self.metadata(self.spec["sender"])

        async def call(i: int) -> None:
            await stubs[i % n].Submit(self.request(), metadata=md, timeout=30)

        await self.timed(lambda: self.closed_loop(call))

    async def open_loop(self) -> None:
        n = max(1, int(self.spec.get("connections", 1)))
        stubs, md = [self.exchange(self.spec["sender"], i) for i in range(n)], self.metadata(self.spec["sender"])
        rate = float(self.spec["rate"])
        tasks: set[asyncio.Task[None]] = set()

        async def one(due: float, i: int) -> None:
            try:
                await stubs[i % n].Submit(self.request(), metadata=md, timeout=30)
            except grpc.RpcError as exc:
                self.meter.error(f"{exc.code().name}: {exc.details()}")
                return
            self.meter.record(due)

        async def body() -> None:
            start, i = time.perf_counter(), 0
            while self.running():
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                t = asyncio.create_task(one(due, i))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                i += 1
            if tasks:
                await asyncio.wait(tasks)

        await self.timed(body)

    async def _stream_submits(self, on_answer: Callable[[Any, float], None], *, echo: bool = False) -> int:
        """Submits over ``streams`` SubmitStream calls (``echo``: EchoStream calls with the same request
        bytes), ``concurrency`` requests in flight in all; returns the number of requests sent."""
        streams = max(1, int(self.spec.get("streams", 4)))
        window = max(1, int(self.spec["concurrency"]) // streams)
        md = self.metadata(self.spec["sender"])
        encode: Callable[[exchange_pb2.SubmitRequest], Any] = (
            exchange_pb2.SubmitRequest.SerializeToString if echo else (lambda r: r))

        def open_call(i: int) -> Any:
            if echo:
                return self.channel(self.spec["sender"], i).stream_stream(ECHO_STREAM_METHOD)(metadata=md)
            return self.exchange(self.spec["sender"], i).SubmitStream(metadata=md)

        sent = 0

        async def one_stream(i: int) -> None:
            nonlocal sent
            call = open_call(i)
            free = asyncio.Semaphore(window)
            started: collections.deque[float] = collections.deque()

            async def writer() -> None:
                nonlocal sent
                while self.running():
                    await free.acquire()
                    started.append(time.perf_counter())
                    await call.write(encode(self.request()))
                    sent += 1
                    self.sent += 1
                await call.done_writing()

            async def reader() -> None:
                async for resp in call:
                    t0 = started.popleft()
                    free.release()
                    on_answer(resp, t0)

            await asyncio.gather(writer(), reader())

        try:
            await asyncio.gather(*(one_stream(i) for i in range(streams)))
        except grpc.RpcError as exc:
            self.meter.error(f"{exc.code().name}: {exc.details()}")
        return sent

    async def submit_stream(self) -> None:
        def answered(resp: exchange_pb2.SubmitResponse, t0: float) -> None:
            if resp.HasField("error"):
                self.meter.error(f"code {resp.error.code}: {resp.error.message}")
            else:
                self.meter.record(t0)

        await self.timed(lambda: self._stream_submits(answered))

    async def end_to_end(self) -> dict[str, Any]:
        """Submit (streamed) → Receive at every recipient → batched Acknowledge; an item is done when all
        its recipients acknowledged it. After the window, submitting stops and the queue is drained."""
        receivers: list[str] = list(self.spec["receivers"])
        sent_at: dict[str, float] = {}
        acked_by: dict[str, int] = collections.defaultdict(int)
        accepted: list[str] = []
        complete: set[str] = set()
        last_ack = [0.0]
        all_done = asyncio.Event()
        submitting = [True]

        def check_done(mid: str) -> None:
            if acked_by.get(mid, 0) >= len(receivers) and mid in sent_at and mid not in complete:
                complete.add(mid)
                self.meter.record(sent_at[mid])
                last_ack[0] = time.perf_counter()
                if not submitting[0] and len(complete) >= len(accepted):
                    all_done.set()

        def answered(resp: exchange_pb2.SubmitResponse, t0: float) -> None:
            if resp.HasField("error"):
                self.meter.error(f"code {resp.error.code}: {resp.error.message}")
                return
            accepted.append(resp.message_id)
            sent_at[resp.message_id] = t0
            check_done(resp.message_id)

        async def receive(participant: str) -> None:
            stub, md = self.exchange(participant), self.metadata(participant)
            call = stub.Receive(exchange_pb2.ReceiveRequest(max_in_flight=512), metadata=md)
            batch: list[str] = []
            acking: set[asyncio.Task[None]] = set()
            seen: set[str] = set()

            async def ack(ids: list[str]) -> None:
                try:
                    await stub.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=ids), metadata=md, timeout=30)
                except grpc.RpcError as exc:
                    self.meter.error(f"ack {exc.code().name}: {exc.details()}")
                    return
                for mid in ids:
                    if mid not in seen:
                        seen.add(mid)
                        acked_by[mid] += 1
                        check_done(mid)

            def flush() -> None:
                if batch:
                    t = asyncio.create_task(ack(list(batch)))
                    acking.add(t)
                    t.add_done_callback(acking.discard)
                    batch.clear()

            async def flusher() -> None:
                while True:
                    await asyncio.sleep(0.01)
                    flush()

            tick = asyncio.create_task(flusher())
            try:
                async for d in call:
                    batch.append(d.message_id)
                    if len(batch) >= 128:
                        flush()
            except asyncio.CancelledError:
                call.cancel()
                raise
            finally:
                tick.cancel()

        readers = [asyncio.create_task(receive(r)) for r in receivers]

        async def body() -> None:
            await self._stream_submits(answered)
            submitting[0] = False
            if len(complete) >= len(accepted):
                all_done.set()
            try:
                await asyncio.wait_for(all_done.wait(), timeout=float(self.spec.get("drain_s", 60)))
            except asyncio.TimeoutError:
                pass

        t0 = time.perf_counter()
        cpu0 = procstat.cpu_seconds(self.meter.server_pid)
        await self.timed(body)
        cpu1 = procstat.cpu_seconds(self.meter.server_pid)
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        checked, receipts_ok = await self.check_status(accepted)
        # Throughput over the whole run including the drain: the rate at which items were fully acknowledged.
        elapsed = max(1e-9, (last_ack[0] or time.perf_counter()) - t0)
        return {"submitted": len(accepted), "acknowledged": len(complete), "lost": len(accepted) - len(complete),
                "items_per_s": round(len(complete) / elapsed, 1), "seconds": round(elapsed, 3),
                "cpu_ms_per_item": round((cpu1 - cpu0) * 1000 / max(1, len(complete)), 3),
                "status_checked": checked, "status_with_receipts": receipts_ok}

    async def check_status(self, message_ids: list[str]) -> tuple[int, int]:
        """GetStatus on a sample: every recipient ACKNOWLEDGED, with a signed receipt."""
        if not message_ids:
            return 0, 0
        stub, md = self.exchange(self.spec["sender"]), self.metadata(self.spec["sender"])
        step = max(1, len(message_ids) // int(self.spec.get("status_samples", 20)))
        sample = message_ids[::step]
        ok = 0
        for mid in sample:
            st = await stub.GetStatus(exchange_pb2.GetStatusRequest(message_id=mid), metadata=md, timeout=30)
            if st.recipients and all(r.state == exchange_pb2.DELIVERY_STATE_ACKNOWLEDGED and
                                     any(rc.jws for rc in r.receipts) for r in st.recipients):
                ok += 1
        return len(sample), ok


    async def memory(self) -> dict[str, Any]:
        """Queues ``items`` undelivered messages, sampling the node's RSS, then times the first delivery
        of a fresh Receive stream."""
        samples: list[tuple[int, float]] = []
        pid = self.meter.server_pid

        def answered(resp: exchange_pb2.SubmitResponse, t0: float) -> None:
            if resp.HasField("error"):
                self.meter.error(f"code {resp.error.code}: {resp.error.message}")
            else:
                self.meter.record(t0)

        async def sampler() -> None:
            step = max(1, self.max_items // 50) if self.max_items else 10_000
            next_at = 0
            while True:
                if self.meter.done_total >= next_at:
                    samples.append((self.meter.done_total, round(procstat.rss_mb(pid), 1)))
                    next_at += step
                await asyncio.sleep(0.2)

        self.meter.open_window()
        ticker = asyncio.create_task(self.progress("memory"))
        sampling = asyncio.create_task(sampler())
        try:
            await self._stream_submits(answered)
        finally:
            sampling.cancel()
            ticker.cancel()
        self.meter.close_window()
        samples.append((self.meter.done_total, round(procstat.rss_mb(pid), 1)))
        receiver = self.spec["receivers"][0]
        stub, md = self.exchange(receiver), self.metadata(receiver)
        t0 = time.perf_counter()
        call = stub.Receive(exchange_pb2.ReceiveRequest(max_in_flight=64), metadata=md)
        first = None
        got = 0
        async for _ in call:
            got += 1
            if first is None:
                first = time.perf_counter() - t0
            if got >= 64:
                break
        hundred = time.perf_counter() - t0
        call.cancel()
        return {"queued": self.meter.done_total, "rss_samples": samples,
                "rss_first_mb": samples[0][1], "rss_max_mb": max(r for _, r in samples),
                "rss_last_mb": samples[-1][1], "receive_first_delivery_s": round(first or 0.0, 3),
                "receive_first_64_s": round(hundred, 3), "rss_after_receive_mb": round(procstat.rss_mb(pid), 1)}


    async def large_doc_latency(self) -> dict[str, Any]:
        """Health/Check every 10 ms while maximum-size ITMATT documents are submitted one after another and
        received (decoded, then encoded again for each recipient). The latencies measured are the health
        checks': a node that decodes or encodes on its event loop answers nothing meanwhile."""
        big = large_itmatt(int(self.spec.get("large_doc_bytes", 4 * 1024 * 1024 - 4096)))
        sender = self.spec["sender"]
        health = health_pb2_grpc.HealthStub(self.channel(sender, 1))
        submit, md = self.exchange(sender, 0), self.metadata(sender)
        submit_s: list[float] = []
        delivered = [0]

        async def submits() -> None:
            n = 0
            while self.running():
                t0 = time.perf_counter()
                try:
                    await submit.Submit(exchange_pb2.SubmitRequest(
                        format="upu.itmatt.v1", content=big.replace(b"LOC-", f"L{n:03d}".encode(), 1)),
                        metadata=md, timeout=120)
                except grpc.RpcError as exc:
                    self.meter.error(f"submit {exc.code().name}: {exc.details()}")
                    return
                submit_s.append(time.perf_counter() - t0)
                n += 1

        async def receive(participant: str) -> None:
            stub, rmd = self.exchange(participant, 2), self.metadata(participant)
            call = stub.Receive(exchange_pb2.ReceiveRequest(max_in_flight=1), metadata=rmd)
            try:
                async for d in call:
                    delivered[0] += 1
                    await stub.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[d.message_id]),
                                           metadata=rmd, timeout=60)
            except asyncio.CancelledError:
                call.cancel()
                raise

        async def checks() -> None:
            while self.running():
                t0 = time.perf_counter()
                try:
                    await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
                except grpc.RpcError as exc:
                    self.meter.error(f"health {exc.code().name}: {exc.details()}")
                    continue
                self.meter.record(t0)
                await asyncio.sleep(0.01)

        readers = [asyncio.create_task(receive(r)) for r in self.spec["receivers"]]

        async def body() -> None:
            await asyncio.gather(submits(), checks())

        await self.timed(body)
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        lat = sorted(self.meter.latencies)
        return {"large_doc_bytes": len(big), "submits": len(submit_s),
                "submit_mean_s": round(sum(submit_s) / max(1, len(submit_s)), 3), "deliveries": delivered[0],
                "health_max_ms": round(lat[-1] * 1000, 2) if lat else 0.0}


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    load = Load(spec)
    extra: dict[str, Any] = {}
    try:
        scenario = spec["scenario"]
        if scenario == "echo":
            await load.echo()
        elif scenario == "echo_stream":
            await load.echo_stream()
        elif scenario in ("submit_unary",):
            await load.submit_unary()
        elif scenario == "submit_stream":
            await load.submit_stream()
        elif scenario == "open_loop":
            await load.open_loop()
        elif scenario == "end_to_end":
            extra = await load.end_to_end()
        elif scenario == "large_doc_latency":
            extra = await load.large_doc_latency()
        elif scenario == "memory":
            extra = await load.memory()
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
    finally:
        for ch in load.channels.values():
            await ch.close()
    result = load.meter.result()
    result.update(extra)
    if spec["scenario"] == "open_loop":
        result["offered_per_s"] = float(spec["rate"])
    result["document_bytes"] = len(load.docs)
    return result


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(run(spec))), flush=True)


if __name__ == "__main__":
    main()
