"""The `gateway` command as an operator and an agency's integrator use it, against a real node process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters import registry
from gateway.testing.documents import aed_batch
from gateway.testing.nodes import free_port, write_client_profile, write_directory, write_node_config

ROOT = Path(__file__).resolve().parents[2]


def gateway(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, check=check,
                          timeout=timeout, cwd=ROOT)


def client_profile(fed, tmp: Path, participant: str, address: str) -> Path:  # type: ignore[no-untyped-def]
    return write_client_profile(fed, tmp, participant, address)


@pytest.fixture
def node_process(federation, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    directory = write_directory(federation, tmp_path, {"de-node": port, "fr-node": free_port()})
    config = write_node_config(federation, tmp_path, "de-node", port, directory)
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "listening on" in line, proc.stderr.read()  # type: ignore[union-attr]
    yield config, f"127.0.0.1:{port}"
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "graceful shutdown on SIGTERM exits 0"


def test_config_check_accepts_the_example_and_names_every_bad_key(tmp_path: Path) -> None:
    ok = gateway("config", "check", "examples/de-node.toml", check=False)
    if not (ROOT / "certs-example" / "ca" / "ca.crt").exists():
        pytest.fail("certs-example/ is part of the repository and must exist")
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "examples" / "de-node.toml").read_text()
                   .replace('listen = "127.0.0.1:50051"', 'listen = "nowhere"')
                   .replace("max_message_bytes = 4194304", "max_message_bytes = -1")
                   .replace('directory = "federation.toml"', f'directory = "{ROOT / "examples" / "federation.toml"}"')
                   .replace("../certs-example", str(ROOT / "certs-example")))
    res = gateway("config", "check", str(bad), check=False)
    assert res.returncode == 2
    assert "node.listen" in res.stderr and "limits.max_message_bytes" in res.stderr


def test_health_submit_receive_status_from_the_command_line(node_process, federation, tmp_path: Path) -> None:
    config, address = node_process
    post = client_profile(federation, tmp_path, "DE/POST/MAIN", address)
    customs = client_profile(federation, tmp_path, "DE/CUSTOMS/MAIN", address)
    assert gateway("health", "--client", str(post)).stdout.strip() == "SERVING"

    docs = tmp_path / "outbox"
    docs.mkdir()
    for n in range(3):
        (docs / f"aed-{n}.xml").write_bytes(
            registry.encode("upu.itmatt.v1", registry.AED, aed_batch(1, start=20000000 + n)))
    out = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", str(docs)).stdout.splitlines()
    ids = [line.split("\t")[0] for line in out]
    assert len(ids) == 3 and all(i.startswith("sha256-") for i in ids), "ids derived from sender and content"

    rerun = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", str(docs))
    assert [line.split("\t")[0] for line in rerun.stdout.splitlines()] == ids
    assert all(line.endswith("(duplicate)") for line in rerun.stdout.splitlines()), "a rerun sends nothing new"
    assert rerun.stderr.strip().endswith("3 files: 0 accepted, 3 duplicate (sent before), 0 refused")

    inbox = tmp_path / "inbox"
    got = gateway("receive", "--client", str(customs), "--out", str(inbox), "--count", "3")
    assert sorted(line.split("\t")[0] for line in got.stdout.splitlines()) == sorted(ids)
    assert len(list(inbox.glob("*.receipt.jws"))) == 3

    status = gateway("status", "--client", str(post), ids[0]).stdout
    assert "DE/CUSTOMS/MAIN" in status and "ACKNOWLEDGED" in status and "receipts=1" in status


def test_unknown_message_status_is_a_clear_error(node_process, federation, tmp_path: Path) -> None:
    _, address = node_process
    post = client_profile(federation, tmp_path, "DE/POST/MAIN", address)
    res = gateway("status", "--client", str(post), "no-such-message", check=False)
    assert res.returncode == 1
    assert "NOT_FOUND" in res.stderr




def test_a_second_node_on_a_busy_port_says_so_in_one_line(node_process) -> None:
    config, address = node_process
    res = gateway("serve", "--config", str(config), check=False)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2
    assert lines == [f"gateway serve: cannot listen on {address}: already in use (is another node running?); "
                     "see [node] listen"], res.stderr


def test_a_document_above_the_limit_gets_the_gateways_own_limit_message(node_process, federation,
                                                                      tmp_path: Path) -> None:
    """gRPC's own "larger than max" must not speak first: the transport reads more than the document limit."""
    _, address = node_process
    post = client_profile(federation, tmp_path, "DE/POST/MAIN", address)
    big = tmp_path / "big.xml"
    big.write_bytes(b"<x>" + b"a" * (10 * 1024 * 1024) + b"</x>")
    res = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", str(big), check=False)
    assert res.returncode == 1
    assert "limits.max_message_bytes" in res.stderr and "larger than max" not in res.stderr, res.stderr
    assert res.stderr.startswith("RESOURCE_EXHAUSTED: content is 10485767 bytes"), res.stderr


def test_a_bulk_submit_with_a_refused_file_says_so_and_exits_1(node_process, federation, tmp_path: Path) -> None:
    _, address = node_process
    post = client_profile(federation, tmp_path, "DE/POST/MAIN", address)
    docs = tmp_path / "outbox"
    docs.mkdir()
    (docs / "a-good.xml").write_bytes(registry.encode("upu.itmatt.v1", registry.AED, aed_batch(1, start=20100000)))
    (docs / "b-bad.xml").write_text("<not-itmatt/>")
    res = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", str(docs), check=False)
    assert res.returncode == 1
    assert "REFUSED\t" in res.stderr and "b-bad.xml" in res.stderr
    assert res.stderr.strip().endswith("2 files: 1 accepted, 0 duplicate (sent before), 1 refused")
    new = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", "--new-ids",
                  str(docs / "a-good.xml"))
    assert "(duplicate)" not in new.stdout, "--new-ids sends the same file again as a new message"


def test_a_bulk_submit_names_each_refused_item_and_accepts_the_rest(node_process, federation, tmp_path: Path) -> None:
    _, address = node_process
    post = client_profile(federation, tmp_path, "DE/POST/MAIN", address)
    docs = tmp_path / "outbox"
    docs.mkdir()
    batch = aed_batch(3, start=20200000)
    batch.items[1].origin_country = "XX"
    (docs / "a-batch.xml").write_bytes(registry.encode("upu.itmatt.v1", registry.AED, batch))
    (docs / "b-good.xml").write_bytes(registry.encode("upu.itmatt.v1", registry.AED, aed_batch(1, start=20300000)))
    res = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", str(docs), check=False)
    assert res.returncode == 1, "a refused item is worth a non-zero exit, as a refused file is"
    [line] = [x for x in res.stderr.splitlines() if x.startswith("REFUSED ITEM")]
    assert f"\t{batch.items[1].item_id}\t" in line and "Item[2]/itmatt:OrigCountryCd: 'XX'" in line
    assert res.stderr.strip().endswith("2 files: 2 accepted, 0 duplicate (sent before), 0 refused; 4 items, 1 refused")
    every = gateway("submit", "--client", str(post), "--format", "upu.itmatt.v1", "--all-or-nothing", "--new-ids",
                    str(docs / "a-batch.xml"), check=False)
    assert every.returncode != 0 and "INVALID_ARGUMENT" in every.stderr + every.stdout
