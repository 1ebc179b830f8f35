"""A node whose disk fills up, for real: its SQLite database on a small tmpfs mounted for the test, filled
with a file until the filesystem refuses to write. Health turns NOT_SERVING, Submit, Acknowledge and
Receive are refused naming what did not happen (RESOURCE_EXHAUSTED with RetryInfo); once space is freed
the node serves again and has lost nothing it accepted. Started on a full disk, `gateway serve` ends
with one clear line and a non-zero exit.

Mounting needs root: as root (``id -u`` = 0) the test mounts the tmpfs itself; otherwise it runs
itself again in a user and mount namespace of its own (``unshare -rm``), where it is root."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from gateway.api.swg.v1 import exchange_pb2
from gateway.testing.documents import aed_batch
from gateway.testing.federation import Federation
from gateway.testing.nodes import Client, NodeRunner, connect, free_port, write_directory, write_node_config
from tests.support import tally
from tests.support.two_nodes import wait_for

POST, CUSTOMS = "DE/POST/MAIN", "DE/CUSTOMS/MAIN"
DISK_BYTES = 24 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
IN_NAMESPACE = "SWG_TEST_FULL_DISK_IN_NAMESPACE"


def _is_root() -> bool:
    return os.geteuid() == 0


if not _is_root() and not os.environ.get(IN_NAMESPACE):
    # Not root: run this module again as root of a user namespace with its own mounts (nothing of it leaks).
    def test_full_disk_in_a_user_namespace() -> None:
        unshare = shutil.which("unshare")
        assert unshare, "the full-disk test needs root or unshare(1) to mount a small tmpfs"
        env = dict(os.environ, **{IN_NAMESPACE: "1"})
        run = subprocess.run([unshare, "--user", "--map-root-user", "--mount", sys.executable, "-m", "pytest", "-q",
                              "-p", "no:cacheprovider", str(Path(__file__).relative_to(ROOT))],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        tally.fault("disk full (tmpfs)")

else:
    @pytest.fixture
    def small_disk(tmp_path: Path) -> Iterator[Path]:
        mount = tmp_path / "disk"
        mount.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)], check=True)
        try:
            yield mount
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=True)

    def _config(fed: Federation, tmp: Path, disk: Path) -> Path:
        port = free_port()
        directory = write_directory(fed, tmp, {"de-node": port, "fr-node": free_port()})
        return write_node_config(fed, tmp, "de-node", port, directory, database_url=f"sqlite:///{disk / 'de-node.db'}")

    def _fill(disk: Path) -> Path:
        """Write a file until the filesystem has no byte left."""
        filler = disk / "filler"
        chunk = b"\0" * (64 * 1024)
        with filler.open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
            try:
                while True:
                    f.write(b"\0")
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        return filler

    def _submit(client: Client, start: int, items: int = 20) -> str:
        req = exchange_pb2.SubmitRequest(format="swg.aed.v1", content=aed_batch(items, start=start).SerializeToString())
        return str(client.exchange.Submit(req, metadata=client.metadata, timeout=30).message_id)

    def _health(client: Client) -> int:
        return int(health_pb2_grpc.HealthStub(client.channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status)

    def _full(err: grpc.RpcError, what: str) -> None:
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (err.code(), err.details())
        assert err.details() == f"{what}: disk full on the node; retry later", err.details()
        st = rpc_status.from_call(err)  # type: ignore[arg-type]
        assert st is not None
        retry = [d for d in st.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
        assert retry, "no RetryInfo"

    def test_full_disk_is_signalled_and_nothing_accepted_is_lost(federation: Federation, tmp_path: Path,
                                                                 small_disk: Path) -> None:
        runner = NodeRunner(_config(federation, tmp_path, small_disk)).start()
        post, customs = (connect(federation, "de-node", runner.address, p) for p in (POST, CUSTOMS))
        accepted: list[str] = []
        try:
            accepted += [_submit(post, 70_000_000 + 100 * i) for i in range(3)]
            held = customs.receive(1)[0].message_id  # handed out, not acknowledged yet
            filler = _fill(small_disk)
            tally.fault("disk full (tmpfs)")
            refused: grpc.RpcError | None = None
            for i in range(200):  # a few writes may still fit in pages the database already has
                try:
                    accepted.append(_submit(post, 71_000_000 + 100 * i))
                except grpc.RpcError as err:
                    refused = err
                    break
            assert refused is not None, "the full filesystem never refused a submit"
            _full(refused, "message not accepted")
            wait_for(lambda: _health(post) == health_pb2.HealthCheckResponse.NOT_SERVING)
            with pytest.raises(grpc.RpcError) as ack:
                customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[held]),
                                             metadata=customs.metadata, timeout=30)
            _full(ack.value, "acknowledge not recorded")
            with pytest.raises(grpc.RpcError) as recv:
                customs.receive(1)
            _full(recv.value, "receive: no message handed out")
            assert _health(post) == health_pb2.HealthCheckResponse.NOT_SERVING
            metrics = runner.node.metrics.registry.get_sample_value("swg_storage_full")
            assert metrics == 1.0

            filler.unlink()  # space again: the node serves without being restarted
            wait_for(lambda: _health(post) == health_pb2.HealthCheckResponse.SERVING)
            assert runner.node.metrics.registry.get_sample_value("swg_storage_full") == 0.0
            accepted.append(_submit(post, 72_000_000))
            customs.exchange.Acknowledge(exchange_pb2.AcknowledgeRequest(message_ids=[held]),
                                         metadata=customs.metadata, timeout=30)
            got = {held} | {d.message_id for d in customs.receive(len(accepted) - 1, timeout=60)}
            assert got == set(accepted)
            tally.messages(accepted=len(accepted), delivered=len(got), lost=len(set(accepted) - got))
        finally:
            post.close()
            customs.close()
            runner.close()

    def test_starting_on_a_full_disk_ends_with_one_clear_line(federation: Federation, tmp_path: Path,
                                                              small_disk: Path) -> None:
        config = _config(federation, tmp_path, small_disk)
        NodeRunner(config).start().close()  # the schema is made while there is room
        _fill(small_disk)
        tally.fault("disk full at start (tmpfs)")
        run = subprocess.run([sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())",
                              "serve", "--config", str(config)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode != 0
        lines = [line for line in run.stderr.splitlines() if line.strip() and not line.startswith("{")]
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("gateway serve: cannot start node de-node: "), run.stderr
        assert lines[0].endswith(": disk full on the node; retry later"), run.stderr
        assert "Traceback" not in run.stderr + run.stdout
