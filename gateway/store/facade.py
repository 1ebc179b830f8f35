"""``Store``: the node's one way into its database, as typed methods over the per-concern modules.

Writes go to the group-commit ``Writer`` (gateway.store.engine) and return a ``Pending`` at once: the
op is queued before the method returns, so a caller may submit now and await later (pipelining), await
at once, block on ``result()`` from a thread, or drop it (fire and forget). Reads are synchronous on the
read engine; callers on the event loop that may read much run them in a thread.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, make_url, select
from sqlalchemy.exc import SQLAlchemyError

import gateway.store.schema as t
from gateway.store import (
    assistance, audit_queries, browse, deliveries, kpi, messages, relay, retention, stats, timestamps, tracking,
)
from gateway.store.audit_log import AuditEntry, AuditEvent, Checkpoint
from gateway.store.batch import BatchBuffer, lock_audit_head
from gateway.errors import ResourceExhausted, Unavailable
from gateway.store.engine import (
    DISK_FULL_RETRY_S, Pending, Writer, is_sqlite, make_engines, space_probe, sqlite_path, translate_db_error,
)
from gateway.store.records import (
    Accepted, AckOutcome, AssistanceCaseRecord, Claimed, DeliveryFact, DeliveryRecord, KpiItemRow, MessageRecord,
    MessageStatus, NewMessage, PeerReceipt, ReceiptRecord,
)
from gateway.store.retention import ArchivableMessage, ArchiveRecord
from gateway.store.tracking import TrackedMessage


PROBE_BYTES = 64 * 1024


def _probe(conn: Connection) -> None:
    # A real insert (pages and WAL frames to write) into a table with no foreign keys, gone at commit.
    r = t.peer_receipts
    mark = f"~space-probe-{uuid.uuid4().hex}"
    conn.execute(insert(r).values(node="", message_id=mark, recipient="", jws="x" * PROBE_BYTES,
                                  envelope_sha256=b"", issued_us=0, issuing_node="", sent=1))
    conn.execute(delete(r).where(r.c.message_id == mark))


class Store:
    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, max_pages: int = 0,
                 group_commit_wait_ms: float = 0.0):
        self.url = url
        self.dialect = "sqlite" if is_sqlite(url) else "postgresql"
        self._write_engine, self._read_engine = make_engines(url, busy_timeout_ms=busy_timeout_ms,
                                                             max_pages=max_pages)
        self._writer = Writer(self._write_engine,
                              before_batch=None if self.dialect == "sqlite" else lock_audit_head,
                              new_buffer=BatchBuffer, gather_wait_s=group_commit_wait_ms / 1000)

    # -- lifecycle ---------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Bring the database to the newest schema revision (alembic migrations)."""
        # Imported here: alembic is a large import, and a node's worker processes never migrate.
        from gateway.store import migrate

        migrate.upgrade(self.url)

    def ping(self) -> None:
        try:
            with self._read_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            # The health loop pings twice a second and logs transitions itself: no incident per ping.
            raise Unavailable("database not reachable") from exc

    def space_problem(self) -> str | None:
        """Why writes are refused for lack of space (the last write that needed room failed), or None."""
        return self._writer.space_problem

    def probe_space(self) -> Pending[None]:
        """Commit a write that needs room (a 64 KiB row, deleted again in the same transaction); once it
        commits, ``space_problem`` is cleared. The health loop runs it while writes are refused."""
        if self.dialect == "sqlite":
            path = make_url(self.url).database
            if path and path != ":memory:":
                # Nothing to gain from trying while the filesystem has no room at all.
                free = shutil.disk_usage(Path(path).resolve().parent).free
                if free < 4 * PROBE_BYTES:
                    done: Pending[None] = Pending(None)
                    done.set_exception(ResourceExhausted(f"space probe: {free} bytes free on the database's "
                                                         "filesystem", retry_after_s=DISK_FULL_RETRY_S))
                    return done
        return self._writer.submit(space_probe(_probe), "space probe")

    def close(self) -> None:
        self._writer.close()
        self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            self._read_engine.dispose()

    def expect_write(self) -> contextlib.AbstractContextManager[None]:
        """Announce a write that will be submitted soon: the writer may hold its next commit a moment
        for it (``[database] group_commit_wait_ms``); leaving the ``with`` block withdraws it."""
        return self._writer.expect()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        # Every read, like every write, answers a database failure as UNAVAILABLE (retryable, no internals);
        # a connection that failed is invalidated by SQLAlchemy, so the next call starts on a fresh one.
        try:
            with self._read_engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise translate_db_error(exc, "read failed", sqlite_path(self.url)) from exc

    # -- messages ----------------------------------------------------------------------------------

    def accept(self, msg: NewMessage) -> Pending[Accepted]:
        """Store a new message with its deliveries, KPI facts, ACCEPTED entry and parts; the same content
        under a known id answers the first acceptance again, other content is ``AlreadyExists``; an AED
        declaring an item another sender declared to the same recipient is ``FailedPrecondition``."""
        return self._writer.submit(messages.accept(msg), "message not accepted")

    def message_exists(self, message_id: str) -> tuple[bytes | None, str] | None:
        """(submit digest, sender) of a stored message, or None."""
        with self._read() as conn:
            return messages.message_exists(conn, message_id)

    def message(self, message_id: str) -> MessageRecord:
        with self._read() as conn:
            return messages.message(conn, message_id)

    def envelope(self, message_id: str) -> bytes:
        with self._read() as conn:
            return messages.envelope(conn, message_id)

    def status(self, message_id: str) -> MessageStatus:
        with self._read() as conn:
            return messages.status(conn, message_id)

    def sender_of(self, message_id: str) -> str | None:
        with self._read() as conn:
            return messages.sender_of(conn, message_id)

    def parties_of(self, message_id: str) -> tuple[str, str, tuple[str, ...]] | None:
        """(sender, conversation id, recipients) of a stored message."""
        with self._read() as conn:
            return messages.parties_of(conn, message_id)

    def owners_of_items(self, item_ids: Iterable[str], declared_to: str) -> dict[str, str]:
        """item id -> the sender that owns it at ``declared_to`` (declared it there first, e.g. in an AED to
        a customs); items nobody declared there are left out."""
        with self._read() as conn:
            return {i: owner for i, (owner, _) in messages.owners_of_items(conn, item_ids, declared_to).items()}

    def declarations_of_items(self, item_ids: Iterable[str], declared_to: str) -> dict[str, str]:
        """item id -> id of its owner's latest AED to ``declared_to`` (never another sender's)."""
        with self._read() as conn:
            return {i: mid for i, (_, mid) in messages.owners_of_items(conn, item_ids, declared_to).items()}

    def parts_of(self, message_id: str) -> dict[str, str]:
        """part id -> recipient of a message the node split per recipient ({} for any other)."""
        with self._read() as conn:
            return messages.parts_of(conn, message_id)

    def receipts_of(self, message_id: str) -> list[ReceiptRecord]:
        with self._read() as conn:
            return messages.receipts_of(conn, message_id)

    def stats(self) -> stats.DbStats:
        """Rows and bytes per table, the database's size, the oldest unfinished delivery (`gateway db stats`)."""
        with self._read() as conn:
            return stats.collect(conn)

    def count(self, table: str) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.metadata.tables[table])).scalar_one())

    # -- deliveries to hosted recipients -----------------------------------------------------------

    def claim(self, *, recipient: str | None, route: str, owner: str, limit: int, now_us: int, lease_us: int,
              document_types: Sequence[str] = ()) -> Pending[list[Claimed]]:
        """Take up to ``limit`` due deliveries (queued, or in flight with an expired lease)."""
        return self._writer.submit(deliveries.claim(recipient=recipient, route=route, owner=owner, limit=limit,
                                                    now_us=now_us, lease_us=lease_us,
                                                    document_types=document_types),
                                   "receive: no message handed out")

    def release(self, delivery_ids: Sequence[int], owner: str, now_us: int) -> Pending[int]:
        """Give back in-flight deliveries of a stream that ended, so they are delivered again at once."""
        return self._writer.submit(deliveries.release(delivery_ids, owner, now_us), "release not recorded")

    def release_all_leases(self, route: str, now_us: int) -> Pending[int]:
        return self._writer.submit(deliveries.release_all_leases(route, now_us))

    def acknowledge(self, recipient: str, receipts: Sequence[ReceiptRecord], events: Sequence[AuditEvent],
                    now_us: int) -> Pending[AckOutcome]:
        """Mark deliveries acknowledged and store their receipts; an earlier receipt wins (idempotent)."""
        return self._writer.submit(deliveries.acknowledge(recipient, receipts, events, now_us),
                                   "acknowledge not recorded")

    def fail(self, delivery_id: int, error: str, event: AuditEvent, now_us: int) -> Pending[None]:
        """A delivery that can never succeed (e.g. the envelope does not open for its recipient)."""
        return self._writer.submit(deliveries.fail(delivery_id, error, event, now_us))

    def expire(self, now_us: int, limit: int = 1000) -> Pending[list[DeliveryRecord]]:
        """Turn undelivered deliveries past their message's expiry into EXPIRED, each audited."""
        return self._writer.submit(deliveries.expire(now_us, limit))

    def retry(self, message_ids: Sequence[str], recipient: str | None, now_us: int, actor: str,
              detail: dict[str, str] | None = None) -> Pending[int]:
        """Operator retry: FAILED or EXPIRED deliveries back to QUEUED (expiry extended if it passed); ``detail``
        goes into each audit entry (e.g. the console operator who asked)."""
        return self._writer.submit(deliveries.retry(message_ids, recipient, now_us, actor, detail),
                                   "retry not recorded")

    def deliveries_for(self, recipient: str, message_ids: Sequence[str]) -> dict[str, tuple[DeliveryRecord, bytes]]:
        """Deliveries of ``message_ids`` to ``recipient`` with each message's envelope digest."""
        with self._read() as conn:
            return deliveries.deliveries_for(conn, recipient, message_ids)

    def list_deliveries(self, states: Sequence[int], recipient: str | None, limit: int) -> list[DeliveryRecord]:
        with self._read() as conn:
            return deliveries.list_deliveries(conn, states, recipient, limit)

    def has_pending(self, recipient: str, now_us: int) -> bool:
        with self._read() as conn:
            return deliveries.has_pending(conn, recipient, now_us)

    def queue_depths(self) -> dict[str, int]:
        with self._read() as conn:
            return deliveries.queue_depths(conn)

    # -- federation: relay in and out ---------------------------------------------------------------

    def accept_relayed(self, msg: NewMessage, receipts: Sequence[ReceiptRecord]
                       ) -> Pending[tuple[Accepted, list[ReceiptRecord]]]:
        """Store a message relayed in by a peer with its "delivered" receipts; on a duplicate the receipts
        stored the first time are returned instead (AS4-style)."""
        return self._writer.submit(relay.accept_relayed(msg, receipts), "relayed message not accepted")

    def relayed(self, delivery_ids: Sequence[int], receipts: Sequence[ReceiptRecord], events: Sequence[AuditEvent],
                now_us: int) -> Pending[None]:
        """The peer node took the message over: deliveries DELIVERED (unless already acknowledged)."""
        return self._writer.submit(relay.relayed(delivery_ids, receipts, events, now_us))

    def retry_later(self, delivery_ids: Sequence[int], owner: str, error: str, next_attempt_us: int,
                    max_attempts: int, now_us: int) -> Pending[list[str]]:
        """A relay attempt failed for a passing reason: back to the queue, or FAILED after max_attempts."""
        return self._writer.submit(relay.retry_later(delivery_ids, owner, error, next_attempt_us, max_attempts,
                                                     now_us))

    def link_down(self, route: str, error: str, next_attempt_us: int, now_us: int) -> Pending[int]:
        """A peer link went down: its queued deliveries show the reason and the link's next attempt."""
        return self._writer.submit(relay.link_down(route, error, next_attempt_us, now_us))

    def fail_many(self, delivery_ids: Sequence[int], error: str, events: Sequence[AuditEvent],
                  now_us: int) -> Pending[None]:
        return self._writer.submit(relay.fail_many(delivery_ids, error, events, now_us))

    def peer_acknowledged(self, receipt: ReceiptRecord, route: str, event: AuditEvent, now_us: int) -> Pending[bool]:
        """An "acknowledged" receipt came back from the recipient's node: delivery ACKNOWLEDGED, unless its
        "delivered" receipt is still to come (then it stays queued for the relay; see ``relay``)."""
        return self._writer.submit(relay.peer_acknowledged(receipt, route, event, now_us))

    def peer_receipts_sent(self, ids: Sequence[int]) -> Pending[None]:
        return self._writer.submit(relay.peer_receipts_sent(ids))

    def pending_peer_receipts(self, node: str, limit: int) -> list[PeerReceipt]:
        with self._read() as conn:
            return relay.pending_peer_receipts(conn, node, limit)

    def has_due_relay(self, route: str, now_us: int) -> bool:
        with self._read() as conn:
            return relay.has_due_relay(conn, route, now_us)

    # -- mutual assistance case metadata -------------------------------------------------------------

    def open_assistance_case(self, case: AssistanceCaseRecord) -> Pending[None]:
        return self._writer.submit(assistance.open_case(case))

    def assistance_answered(self, request_message_id: str, answer_message_id: str, at_us: int) -> Pending[None]:
        return self._writer.submit(assistance.answered(request_message_id, answer_message_id, at_us))

    def assistance_cases(self, participant: str, only_open: bool) -> list[AssistanceCaseRecord]:
        with self._read() as conn:
            return assistance.cases(conn, participant, only_open)

    def assistance_case(self, request_message_id: str) -> AssistanceCaseRecord | None:
        """The case opened here by the request ``request_message_id`` (answered or not), or None."""
        with self._read() as conn:
            return assistance.case(conn, request_message_id)

    # -- audit chain and checkpoints ---------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent], at_us: int) -> Pending[list[int]]:
        return self._writer.submit(audit_queries.append(events, at_us))

    def add_checkpoint(self, cp: Checkpoint) -> Pending[bool]:
        """Store a signed checkpoint; False if one for the same head is stored already."""
        return self._writer.submit(audit_queries.add_checkpoint(cp), "audit checkpoint not stored")

    # -- RFC 3161 stamps of checkpoints (gateway.evidence.timestamping) -------------------------------

    def queue_stamp(self, checkpoint: int, signed: bytes, now_us: int) -> Pending[bool]:
        """Queue a stored checkpoint for a TSA stamp over ``signed`` (the bytes its signature covers)."""
        return self._writer.submit(timestamps.enqueue(checkpoint, signed, now_us), "checkpoint stamp not queued")

    def record_stamp(self, checkpoint: int, token: bytes, gen_time_us: int, now_us: int) -> Pending[bool]:
        return self._writer.submit(timestamps.record_stamp(checkpoint, token, gen_time_us, now_us),
                                   "checkpoint stamp not stored")

    def record_stamp_failure(self, checkpoint: int, reason: str) -> Pending[None]:
        return self._writer.submit(timestamps.record_failure(checkpoint, reason))

    def waiting_stamps(self, limit: int = 100) -> list[timestamps.WaitingStamp]:
        """Checkpoints without a stamp, oldest first."""
        with self._read() as conn:
            return timestamps.waiting(conn, limit)

    def checkpoint_stamp(self, checkpoint: int) -> timestamps.StoredStamp | None:
        with self._read() as conn:
            return timestamps.stamp_of(conn, checkpoint)

    def stamp_status(self) -> timestamps.StampStatus:
        with self._read() as conn:
            return timestamps.status(conn)

    def audit_entries(self, batch: int = 5000, first: int = 1, last_seq: int | None = None) -> Iterator[AuditEntry]:
        """Audit entries in storage (primary key) order, read in pages; all of them by default."""
        return audit_queries.entries(self._read, batch, first, last_seq)

    def audit_head(self) -> tuple[int, bytes] | None:
        with self._read() as conn:
            return audit_queries.head(conn)

    def audit_checkpoints(self) -> list[Checkpoint]:
        with self._read() as conn:
            return audit_queries.checkpoints(conn)

    def last_checkpoint(self) -> Checkpoint | None:
        with self._read() as conn:
            return audit_queries.last_checkpoint(conn)

    def audit_entry(self, seq: int) -> AuditEntry | None:
        return next(self.audit_entries(batch=1, first=seq, last_seq=seq), None)

    def audit_tree_nodes(self, nodes: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored Merkle subtree hashes by (level, index) (gateway/store/audit_tree.py), one query."""
        with self._read() as conn:
            return audit_queries.tree_nodes(conn, nodes)

    def audit_seqs_of(self, message_id: str) -> list[int]:
        with self._read() as conn:
            return audit_queries.seqs_of(conn, message_id)

    def last_audit_of(self, event: str, actor: str) -> AuditEntry | None:
        with self._read() as conn:
            seq = audit_queries.last_seq_of(conn, event, actor)
        return None if seq is None else self.audit_entry(seq)

    def audit_events_between(self, event: str, from_us: int, to_us: int) -> list[AuditEntry]:
        with self._read() as conn:
            return audit_queries.events_between(conn, event, from_us, to_us)

    # -- retention ---------------------------------------------------------------------------------

    def archivable(self, accepted_before_us: int, limit: int) -> list[str]:
        """Messages accepted before the cut-off whose deliveries are all final and not yet archived."""
        with self._read() as conn:
            return retention.archivable(conn, accepted_before_us, limit)

    def archive_contents(self, message_ids: Sequence[str]) -> list[ArchivableMessage]:
        with self._read() as conn:
            return retention.contents(conn, message_ids)

    def last_archive(self) -> ArchiveRecord | None:
        with self._read() as conn:
            return retention.last_archive(conn)

    def archive_of(self, message_id: str) -> ArchiveRecord | None:
        with self._read() as conn:
            return retention.archive_of(conn, message_id)

    def record_archive(self, rec: ArchiveRecord, message_ids: Sequence[str], actor: str) -> Pending[list[str]]:
        """Record a durable archive file as the next link of the chain and prune the messages it holds."""
        return self._writer.submit(retention.record_archive(rec, message_ids, actor), "archive not recorded")

    # -- item tracking -----------------------------------------------------------------------------

    def item_messages(self, participant: str | None, item_ids: Sequence[str]) -> list[TrackedMessage]:
        """Messages naming any of ``item_ids`` that ``participant`` sent or received, with the recipients and
        receipts it may see (all for its own messages, its own otherwise) and the items' plaintext facts."""
        with self._read() as conn:
            return tracking.item_messages(conn, participant, item_ids)

    # -- operator console reads ----------------------------------------------------------------------

    def search_messages(self, f: browse.MessageFilter, after: tuple[int, str] | None, limit: int
                        ) -> list[browse.MessageRow]:
        """Messages matching ``f``, newest first, keyset-paged after (accepted_us, message_id)."""
        with self._read() as conn:
            return browse.search_messages(conn, f, after, limit)

    def items_of(self, message_id: str) -> list[str]:
        with self._read() as conn:
            return browse.items_of(conn, message_id)

    def overview(self, from_us: int, to_us: int, bucket_us: int, refusals: int) -> browse.Overview:
        """Counts for the console's overview page: deliveries per state, routes, throughput, refusals."""
        with self._read() as conn:
            by_state, queues, routes = browse.delivery_counts(conn)
            return browse.Overview(
                messages=browse.message_count(conn), deliveries_by_state=by_state, queue_depths=queues,
                routes=routes,
                throughput=browse.throughput(conn, from_us, to_us, bucket_us),
                refusals=browse.recent_refusals(conn, refusals))

    def audit_of(self, message_id: str) -> list[AuditEntry]:
        with self._read() as conn:
            return list(browse.audit_of(conn, message_id))

    # -- KPI reads ---------------------------------------------------------------------------------

    def kpi_items(self, aed_type: str, from_us: int, to_us: int) -> list[KpiItemRow]:
        """Rows of every item whose first AED was accepted in [from_us, to_us), with all its facts."""
        with self._read() as conn:
            return kpi.kpi_items(conn, aed_type, from_us, to_us)

    def delivery_facts(self, from_us: int, to_us: int) -> list[DeliveryFact]:
        """Deliveries of messages accepted in [from_us, to_us)."""
        with self._read() as conn:
            return kpi.delivery_facts(conn, from_us, to_us)
