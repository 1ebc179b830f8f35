"""The group-commit writer: a batch shares one transaction, and one failing op spoils nothing else."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select

from gateway.store.engine import Writer, make_engines

meta = MetaData()
notes = Table("notes", meta, Column("id", Integer, primary_key=True), Column("text", String, nullable=False))


def test_one_failing_op_in_a_batch_fails_alone_and_the_others_are_committed(tmp_path: Path) -> None:
    engine, _ = make_engines(f"sqlite:///{tmp_path / 'w.db'}")
    meta.create_all(engine)
    writer = Writer(engine)
    gate = threading.Event()

    def hold(conn: Connection) -> str:
        gate.wait(10)  # keeps the writer busy so that the next ops queue up and share one batch
        return "held"

    def add(i: int):  # type: ignore[no-untyped-def]
        def op(conn: Connection) -> int:
            conn.execute(insert(notes), {"id": i, "text": f"note {i}"})
            if i == 3:
                raise ValueError("note 3 is refused")
            return i
        return op

    first = writer.submit(hold)
    futures = [writer.submit(add(i)) for i in range(1, 6)]
    gate.set()
    assert first.result(10) == "held"
    assert [f.result(10) for i, f in enumerate(futures, 1) if i != 3] == [1, 2, 4, 5]
    with pytest.raises(ValueError, match="note 3 is refused"):
        futures[2].result(10)
    writer.close()
    with engine.connect() as conn:
        assert conn.execute(select(notes.c.id).order_by(notes.c.id)).scalars().all() == [1, 2, 4, 5]


def test_awaitable_submits_of_one_batch_each_get_their_own_outcome_and_a_withdrawn_op_never_runs(
        tmp_path: Path) -> None:
    import asyncio

    engine, _ = make_engines(f"sqlite:///{tmp_path / 'a.db'}")
    meta.create_all(engine)
    writer = Writer(engine)
    running, gate = threading.Event(), threading.Event()

    def hold(conn: Connection) -> str:
        running.set()
        gate.wait(10)
        return "held"

    def add(i: int):  # type: ignore[no-untyped-def]
        def op(conn: Connection) -> int:
            conn.execute(insert(notes), {"id": i, "text": f"note {i}"})
            if i == 2:
                raise ValueError("note 2 is refused")
            return i
        return op

    async def main() -> list[object]:
        first = writer.submit(hold)
        # Only once the writer is inside its own batch do the others queue for the next one: an op taken
        # into a batch is marked running at once, and a running op can no longer be withdrawn.
        assert await asyncio.to_thread(running.wait, 10)
        waiters = [writer.submit_async(add(i)) for i in range(1, 5)]
        waiters[3].cancel()  # the caller gives up while the op still waits in the queue
        # Cancelling runs the waiter's done-callbacks (which withdraw the op) on the loop's next turn; take
        # that turn before the writer is let go, or the op may already be running (then it completes).
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.wrap_future(first) == "held"
        return await asyncio.gather(*waiters[:3], return_exceptions=True)

    outcomes = asyncio.run(main())
    writer.close()
    assert outcomes[0] == 1 and outcomes[2] == 3
    assert isinstance(outcomes[1], ValueError)
    with engine.connect() as conn:
        assert conn.execute(select(notes.c.id).order_by(notes.c.id)).scalars().all() == [1, 3]


def test_the_writer_holds_a_commit_for_an_announced_op_and_not_when_it_is_withdrawn(tmp_path: Path) -> None:
    engine, _ = make_engines(f"sqlite:///{tmp_path / 'g.db'}")
    meta.create_all(engine)
    # A gathering wait far longer than the test: only the announced op's arrival or withdrawal ends it.
    writer = Writer(engine, gather_wait_s=60)
    running, gate = threading.Event(), threading.Event()

    def hold(conn: Connection) -> str:
        running.set()
        gate.wait(10)
        return "held"

    def transaction_of(conn: Connection) -> object:
        return conn.get_transaction()  # the object itself, kept alive, so two batches never look alike

    held = writer.submit(hold)
    assert running.wait(10)  # the writer is busy with a batch of its own
    with writer.expect():
        first = writer.submit(transaction_of)
        gate.set()
        assert held.result(10) == "held"
        second = writer.submit(transaction_of)  # the announced op arrives while the writer gathers
    assert first.result(10) is second.result(10)  # one batch, one transaction, one commit
    with writer.expect():
        alone = writer.submit(transaction_of)
    # Announced and withdrawn without an op: the batch commits without waiting out the 60 s.
    assert alone.result(10) is not None
    writer.close()


def test_the_gathering_wait_is_a_validated_setting_that_reaches_the_writer(tmp_path: Path) -> None:
    from gateway.config import load_node_config
    from gateway.errors import ConfigError
    from gateway.node import Node
    from gateway.testing.nodes import free_port, write_directory, write_node_config
    from gateway.testing.federation import make_federation

    federation = make_federation(tmp_path / "pki")
    directory = write_directory(federation, tmp_path, {"de-node": free_port(), "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", free_port(), directory)
    text = config.read_text()
    assert "[database]\n" in text
    assert load_node_config(config).database_group_commit_wait_ms == 4.0
    for bad, problem in (("-1", "must be >= 0"), ("60", "must be <= 50.0 (it adds to submit latency)"),
                         ('"4ms"', "must be a number")):
        config.write_text(text.replace("[database]\n", f"[database]\ngroup_commit_wait_ms = {bad}\n"))
        with pytest.raises(ConfigError) as info:
            load_node_config(config)
        assert [(p.field, p.description) for p in info.value.problems] == [
            ("database.group_commit_wait_ms", problem)], bad
    config.write_text(text.replace("[database]\n", "[database]\ngroup_commit_wait_ms = 0.5\n"))
    node = Node.load(config)
    try:
        assert node.store._writer._gather_wait_s == 0.0005
    finally:
        node.close()
