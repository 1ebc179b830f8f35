"""Database engines and the group-commit writer.

All writes of a node process go through one ``Writer`` thread: each operation is a function of a
connection, run inside a SAVEPOINT of a shared transaction, so that concurrent submits share one
commit (and one fsync) without one bad operation spoiling the others. A caller's future resolves only
after the commit returned: accepted means durable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import shutil
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from gateway.errors import GatewayError, ResourceExhausted, Unavailable
from gateway.store.batch import BUFFER_KEY, BatchBuffer

log = structlog.get_logger("gateway.store")

T = TypeVar("T")
WriteOp = Callable[[Connection], T]

MAX_BATCH = 256
# PostgreSQL aborts one of two deadlocked transactions, or a serialisation failure: the batch is re-run.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
BATCH_ATTEMPTS = 3


@dataclass(frozen=True)
class _LockFree(Generic[T]):
    op: WriteOp[T]
    lock_free: ClassVar[bool] = True

    def __call__(self, conn: Connection) -> T:
        return self.op(conn)


def lock_free(op: WriteOp[T]) -> WriteOp[T]:
    """Mark an operation that never waits for a row lock and appends no audit entry (e.g. a SKIP LOCKED claim).

    A batch made only of such operations skips the writer's ``before_batch`` lock.
    """
    return _LockFree(op)


@dataclass(frozen=True)
class _SpaceProbe(Generic[T]):
    op: WriteOp[T]
    lock_free: ClassVar[bool] = True
    space_probe: ClassVar[bool] = True

    def __call__(self, conn: Connection) -> T:
        return self.op(conn)


def space_probe(op: WriteOp[T]) -> WriteOp[T]:
    """Mark an operation whose commit shows that the database has room again (``Writer.space_problem``)."""
    return _SpaceProbe(op)


def _retryable(exc: OperationalError) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_engine(url: str, *, writer: bool, busy_timeout_ms: int = 30_000, max_pages: int = 0) -> Engine:
    # The writer thread needs one connection; readers get a small pool of their own.
    engine = create_engine(
        url, poolclass=QueuePool, pool_size=1 if writer else 8, max_overflow=0 if writer else 8,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN, so that SAVEPOINTs work (pysqlite quirk).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the submitter is answered, even across a power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if max_pages:
            cur.execute(f"PRAGMA max_page_count={int(max_pages)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def make_engines(url: str, *, busy_timeout_ms: int = 30_000, max_pages: int = 0) -> tuple[Engine, Engine]:
    """(write engine, read engine) for ``url``."""
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return (_sqlite_engine(url, writer=True, busy_timeout_ms=busy_timeout_ms, max_pages=max_pages),
                _sqlite_engine(url, writer=False, busy_timeout_ms=busy_timeout_ms))
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return engine, engine


# SQLite says "database or disk is full" (SQLITE_FULL, also past max_page_count); PostgreSQL has SQLSTATE
# 53100 disk_full ("could not extend file ...: No space left on device"); the OS says ENOSPC.
_FULL_TEXTS = ("disk is full", "no space left")
FULL_SQLSTATES = frozenset({"53100"})


def is_disk_full(exc: BaseException, path: str | None = None) -> bool:
    """``path``: the SQLite database file, whose filesystem is looked at when SQLite reports only
    "disk I/O error" (it does when a full disk refuses its -shm or -wal file)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in FULL_SQLSTATES or getattr(orig, "pgcode", None) in FULL_SQLSTATES:
        return True
    text = str(orig).lower()
    if any(t in text for t in _FULL_TEXTS):
        return True
    if "disk i/o error" in text and path and path != ":memory:":
        try:
            return shutil.disk_usage(Path(path).resolve().parent).free < FULL_BELOW_BYTES
        except OSError:
            return False
    return False


# Below this much free space on the database's filesystem an I/O error counts as a full disk.
FULL_BELOW_BYTES = 1024 * 1024


def sqlite_path(url: str) -> str | None:
    return make_url(url).database if is_sqlite(url) else None


DISK_FULL_RETRY_S = 30.0


def translate_db_error(exc: Exception, what: str = "not stored", path: str | None = None) -> GatewayError:
    """The caller's view of a database failure: retryable, with no host, port, SQL or driver text in it
    (those go to the log once, under the incident id the caller is given). ``what`` names the operation
    that did not happen, e.g. "acknowledge not recorded"; ``path`` is the SQLite file (see is_disk_full)."""
    if is_disk_full(exc, path):
        return ResourceExhausted(f"{what}: disk full on the node; retry later", retry_after_s=DISK_FULL_RETRY_S)
    incident = uuid.uuid4().hex[:16]
    text = str(getattr(exc, "orig", exc)).lower()
    reason = "locked by another process" if "locked" in text or "busy" in text else "not reachable"
    first_line = next(iter(str(getattr(exc, "orig", exc)).splitlines()), "")
    log.warning("database error", incident=incident, error_type=type(exc).__name__, error=first_line[:300])
    return Unavailable(f"{what}: database unavailable ({reason}); retry shortly (incident {incident})",
                       retry_after_s=1.0)


class Writer:
    """One thread that batches write operations into shared transactions (group commit)."""

    def __init__(self, engine: Engine, name: str = "db-writer",
                 before_batch: Callable[[Connection], None] | None = None,
                 new_buffer: Callable[[], BatchBuffer] | None = None, gather_wait_s: float = 0.0):
        self._engine = engine
        self._path = sqlite_path(str(engine.url))
        # Small batches are expensive: each commit rewrites every page its rows touched (WAL frames, index
        # pages) and pays the per-transaction work, so two accepts per commit cost ~4x the CPU per accept of
        # a large batch (docs/performance.md). While producers have announced ops that are on their way
        # (``expect``), the writer waits up to ``gather_wait_s`` after the first op of a batch for them.
        self._gather_wait_s = gather_wait_s
        self._expected = 0
        self._expected_lock = threading.Lock()
        # Optimistic runs of a batch put one of these in ``conn.info[BUFFER_KEY]`` and flush it before the
        # commit (gateway.store.batch); reruns after a failure go without.
        self._new_buffer = new_buffer
        # Runs first in every batch's transaction (unless all its ops are lock_free): on PostgreSQL it takes
        # the lock every replica's writers contend for, before any other, so that lock order is the same
        # everywhere and replicas cannot deadlock.
        self._before_batch = before_batch
        self._queue: queue.SimpleQueue[tuple[WriteOp[Any], Pending[Any]] | None] = queue.SimpleQueue()
        # Set when a batch failed for lack of space, cleared when a ``space_probe`` op commits: the node's
        # health is NOT_SERVING in between (gateway.transport.server). Only the writer thread sets it.
        self.space_problem: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    @contextlib.contextmanager
    def expect(self) -> Iterator[None]:
        """Announce an op that will be submitted soon (or not: leaving the ``with`` block withdraws it)."""
        with self._expected_lock:
            self._expected += 1
        try:
            yield
        finally:
            with self._expected_lock:
                self._expected -= 1
                nobody = self._expected == 0
            if nobody:
                self._queue.put(_WAKE)  # a writer gathering for this op need not wait out its deadline

    def submit(self, op: WriteOp[T], what: str = "not stored") -> Pending[T]:
        """Queue ``op``; its outcome can be awaited, waited for in a thread, or dropped (see ``Pending``).
        ``what`` names, in a database failure, what did not happen ("acknowledge not recorded")."""
        fut: Pending[T] = Pending(_running_loop())
        fut.what = what
        if self._closed:
            fut.set_exception(Unavailable(f"{what}: the node is shutting down"))
        else:
            self._queue.put((op, fut))
        return fut

    def submit_async(self, op: WriteOp[T]) -> asyncio.Future[T]:
        """Like ``submit``, as an asyncio future of the running loop."""
        return self.submit(op).waiter_on(asyncio.get_running_loop())

    def run(self, op: WriteOp[T]) -> T:
        """Blocking convenience for non-async callers."""
        return self.submit(op).result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _WAKE:
                continue
            if first is None:
                return
            batch = [first]
            stop = False
            deadline = 0.0
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    if self._expected <= 0 or self._gather_wait_s <= 0:
                        break
                    now = time.monotonic()
                    deadline = deadline or now + self._gather_wait_s
                    if now >= deadline:
                        break
                    try:
                        nxt = self._queue.get(timeout=deadline - now)
                    except queue.Empty:
                        break
                if nxt is _WAKE:
                    continue
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[WriteOp[Any], Pending[Any]]]) -> None:
        # A caller that gave up before its turn (cancelled) is skipped; once running, an op completes.
        batch = [(op, fut) for op, fut in batch if fut.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            self._commit_running(batch)
        finally:
            _wake_loops([fut for _, fut in batch])

    def _commit_running(self, batch: list[tuple[WriteOp[Any], Pending[Any]]]) -> None:
        # Optimistic first: ops almost never fail, and a SAVEPOINT + RELEASE per op cost about a fifth of
        # the writer's CPU. Only when one fails is the whole transaction rolled back (nothing of it was
        # committed or answered) and the batch redone with a SAVEPOINT per op, isolating the failure.
        savepoints = False
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                outcome = self._try_commit(batch, savepoints=savepoints)
            except OperationalError as exc:
                # A deadlock or serialisation failure between replicas: nothing was committed, run it again.
                if attempt < BATCH_ATTEMPTS and _retryable(exc):
                    continue
                errors: dict[str, GatewayError] = {}
                for _, fut in batch:
                    if not fut.done():
                        what = fut.what
                        if what not in errors:
                            errors[what] = translate_db_error(exc, what, self._path)
                        fut.set_exception(errors[what])
                if is_disk_full(exc, self._path) and self.space_problem is None:
                    self.space_problem = "writes refused: disk full on the node"
                    log.error("database write refused: disk full", ops=len(batch))
                return
            if outcome is not _RETRY:
                if self.space_problem is not None and any(getattr(op, "space_probe", False) for op, _ in batch):
                    self.space_problem = None
                return
            savepoints = True

    def _try_commit(self, batch: list[tuple[WriteOp[Any], Pending[Any]]], *,
                    savepoints: bool) -> object:
        """Run the batch in one transaction; ``_RETRY`` asks for a rerun with a SAVEPOINT per op."""
        results: list[tuple[Pending[Any], bool, Any]] = []
        buffer = None if savepoints or self._new_buffer is None else self._new_buffer()
        try:
            with self._engine.begin() as conn:
                if self._before_batch is not None and not all(getattr(op, "lock_free", False) for op, _ in batch):
                    self._before_batch(conn)
                if buffer is not None:
                    conn.info[BUFFER_KEY] = buffer
                try:
                    for op, fut in batch:
                        if not savepoints:
                            ok, value = self._call(op, conn)
                            if not ok:
                                raise _OpFailed(value)
                        else:
                            savepoint = conn.begin_nested()
                            ok, value = self._call(op, conn)
                            if ok:
                                savepoint.commit()
                            else:
                                savepoint.rollback()
                        results.append((fut, ok, value))
                    if buffer is not None:
                        try:
                            buffer.flush(conn)
                        except OperationalError:
                            raise
                        except Exception as exc:  # noqa: BLE001 - e.g. a duplicate id: rerun op by op
                            raise _FlushFailed() from exc
                finally:
                    conn.info.pop(BUFFER_KEY, None)
        except _FlushFailed:
            return _RETRY
        except _OpFailed as failed:
            if len(batch) > 1 or buffer is not None:
                return _RETRY
            batch[0][1].set_exception(failed.error)
            return None
        except OperationalError:
            raise  # nothing was committed: the caller retries or fails every waiter
        except Exception as exc:  # noqa: BLE001 - every waiter must hear about a failed commit
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return None
        for fut, ok, value in results:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        return None

    @staticmethod
    def _call(op: WriteOp[Any], conn: Connection) -> tuple[bool, Any]:
        try:
            return True, op(conn)
        except OperationalError:
            raise  # the database itself is in trouble: the whole batch fails
        except Exception as exc:  # noqa: BLE001 - handed to the op's own caller
            return False, exc


_RETRY = object()
_WAKE: Any = object()



def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None  # a thread without a loop: the caller blocks on result() or drops the future


class Pending(concurrent.futures.Future[T]):
    """The outcome of a submitted write op, resolved only after its batch committed.

    Await it on the loop it was submitted from: the results of a committed batch reach each loop with
    one wake-up, not one per op (``asyncio.wrap_future`` costs a wake-up each). A thread blocks on
    ``result()``; a fire-and-forget caller drops it, and a failure it never reads is not logged.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        super().__init__()
        self.loop = loop
        # Made on first await, so that a dropped op leaves no asyncio future with an unread exception.
        # Only the loop's thread touches it (here and in _settle): no lock.
        self.waiter: asyncio.Future[T] | None = None
        self.what = "not stored"

    def waiter_on(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
        if self.waiter is None:
            waiter: asyncio.Future[T] = loop.create_future()
            self.waiter = waiter
            if self.done():
                _transfer(self, waiter)
            else:
                # A caller that gives up before the op runs withdraws it, as with wrap_future.
                waiter.add_done_callback(lambda w: self.cancel() if w.cancelled() else None)
        return self.waiter

    def __await__(self) -> Generator[Any, None, T]:
        if self.done():
            return self.result()
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            return (yield from asyncio.wrap_future(self).__await__())
        return (yield from self.waiter_on(loop).__await__())


def _wake_loops(futures: list[Pending[Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[Pending[Any]]] = {}
    for fut in futures:
        if fut.loop is not None and fut.done():
            by_loop.setdefault(fut.loop, []).append(fut)
    for loop, done in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, done)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more


def _settle(done: list[Pending[Any]]) -> None:
    for fut in done:
        if fut.waiter is not None and not fut.waiter.done():
            _transfer(fut, fut.waiter)


def _transfer(fut: Pending[T], waiter: asyncio.Future[T]) -> None:
    exc = fut.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(fut.result())


class _FlushFailed(Exception):
    pass


class _OpFailed(Exception):
    def __init__(self, error: Exception):
        self.error = error
