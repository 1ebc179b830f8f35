"""``gateway convert`` runs the adapters offline; bad input → every violation on stderr, exit 2."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from adapters import registry
from gateway.cli import COMMAND_MODULES, convert_cmd
from tests.adapters import samples

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gateway")
    convert_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


def test_registered_as_a_command_module() -> None:
    assert "gateway.cli.convert_cmd" in COMMAND_MODULES


def test_ips_to_itmatt_file(tmp_path: Path) -> None:
    out = tmp_path / "out.xml"
    assert run("--from", "upu.ips.v1", "--to", "upu.itmatt.v1", str(FIXTURES / "upu-ips/IPSExport.xml"),
               "-o", str(out)) == 0
    assert out.read_bytes() == (FIXTURES / "golden/ips-IPSExport-to-itmatt.xml").read_bytes()


def test_itmatt_to_canonical_json_on_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run("--from", "upu.itmatt.v1", "--to", "swg.aed.v1+json", str(FIXTURES / "itmatt/input.xml")) == 0
    stdout = capsysbinary.readouterr().out
    assert registry.decode("swg.aed.v1+json", stdout)[1] == samples.item_batch()


def test_bad_input_prints_every_violation_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = (FIXTURES / "itmatt/input.xml").read_bytes().replace(b"LX806576725TW", b"LX806576726TW").replace(
        b"<i:HS>610910</i:HS>", b"")
    src = tmp_path / "bad.xml"
    src.write_bytes(bad)
    out = tmp_path / "out.json"
    assert run("--from", "upu.itmatt.v1", "--to", "wco.ecommerce.v1", str(src), "-o", str(out)) == 2
    err = capsys.readouterr().err.splitlines()
    assert "/itmatt:Itmatt/itmatt:Item[2]/itmatt:Id: not a valid S10 item identifier: check digit is 6, expected 5" in err
    assert any(line.startswith("/itmatt:Itmatt/itmatt:Item[1]/itmatt:ContentPieces/itmatt:ContentPiece[1]/itmatt:HS: ")
               for line in err)
    assert not out.exists()


def test_hostile_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "xxe.xml"
    src.write_bytes(b'<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>')
    assert run("--from", "upu.itmatt.v1", "--to", "wco.ecommerce.v1", str(src)) == 2
    assert "DOCTYPE" in capsys.readouterr().err


@pytest.mark.parametrize(("source", "target", "words"), [
    ("upu.nope.v1", "upu.itmatt.v1", "unknown format"),
    ("upu.itmatt.v1", "upu.cusrsp.v1", "same document type"),
    ("upu.itmatt.v1", "upu.ips.v1", "read-only"),
])
def test_usage_errors_exit_2(source: str, target: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--from", source, "--to", target, str(FIXTURES / "itmatt/input.xml")) == 2
    assert words in capsys.readouterr().err


def test_missing_file_is_a_bad_argument_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--from", "upu.itmatt.v1", "--to", "swg.aed.v1", str(tmp_path / "none.xml")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no-such-folder" / "out.json"
    assert run("--from", "upu.itmatt.v1", "--to", "wco.ecommerce.v1", str(FIXTURES / "itmatt/input.xml"),
               "-o", str(out)) == 1
    assert "cannot write" in capsys.readouterr().err


def test_a_file_above_max_bytes_is_refused_before_it_is_read_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--from", "upu.itmatt.v1", "--to", "swg.aed.v1", "--max-bytes", "100",
               str(FIXTURES / "itmatt/input.xml")) == 2
    assert "larger than --max-bytes 100" in capsys.readouterr().err


def test_the_problem_count_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<x/>")
    assert run("--from", "upu.itmatt.v1", "--to", "swg.aed.v1", str(bad)) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert len(re.findall(r"\(\d+ problems?\)", first)) == 1, first


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--list") == 0
    assert "upu.ips.v1\tswg.aed.v1" in capsys.readouterr().out.splitlines()
