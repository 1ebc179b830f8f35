"""Every command, given files that do not exist, answers with one clear line and exit status 2.

The commands are walked from the parser itself, so a new command is covered the day it is added."""

from __future__ import annotations

import argparse
from pathlib import Path
from collections.abc import Iterator

import pytest
import structlog

from gateway.cli import build_parser, main

MISSING = "/swg-nonexistent-dir/swg-missing"
# Values for arguments that are not files; everything else gets a path that does not exist.
PLAIN = {"--format": "upu.itmatt.v1", "--participant": "DE/POST/MAIN", "--scope": "submit",
         "message_id": "m-1", "message_ids": "m-1", "--in-reply-to": "m-1", "action": "retry",
         "--from": "upu.itmatt.v1", "--to": "wco.ecommerce.v1"}


def commands() -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    def walk(parser: argparse.ArgumentParser, words: list[str]) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield words, parser
            return
        for name, child in subs[0].choices.items():
            yield from walk(child, [*words, name])
    yield from walk(build_parser(), [])


def bad_arguments(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    args = list(words)
    for action in parser._actions:
        if action.dest == "help" or not (action.required or not action.option_strings):
            continue
        name = action.option_strings[0] if action.option_strings else action.dest
        value = PLAIN.get(name, PLAIN.get(action.dest, f"{MISSING}-{action.dest}"))
        if action.choices is not None and value not in action.choices:
            value = next(iter(action.choices))
        args += [name, value] if action.option_strings else [value]
    if words == ["convert"]:
        args += ["--from", "upu.itmatt.v1", "--to", "wco.ecommerce.v1"]
    if words == ["directory", "show"]:
        args += ["--ca", f"{MISSING}-ca"]
    return args


# `pki init --out` creates its folder: a missing one is not an error there.
@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # `serve` configures logging onto this test's captured stderr; later tests must not write to it.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


CASES = [bad_arguments(words, parser) for words, parser in commands() if words != ["pki", "init"]]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(a[:2]) for a in CASES])
def test_missing_files_get_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert not Path(MISSING).parent.exists()
    code = main(argv)
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2, (argv, code, out.err)
    assert len(lines) == 1, (argv, out.err)
    assert "Traceback" not in out.err and "Errno" not in out.err, out.err
    assert "swg-missing" in lines[0], f"the line names the missing file: {lines[0]}"
    assert lines[0].count("swg-missing") == 1, f"the file is named once: {lines[0]}"


def test_pki_init_into_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("not a folder")
    code = main(["pki", "init", "--out", str(tmp_path / "taken")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "taken" in err, err
