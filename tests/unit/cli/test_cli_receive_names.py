"""`gateway receive --out DIR` names files itself: a message id from the network never becomes a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.exchange_cmd import _write_inside, file_stem, printable

HOSTILE = ["../../x", "/abs/path", "a/b", "..", ".hidden", "nul\x00byte", "new\nline", "x" * 10_000,
           "C:\\windows\\evil", "\udcff", "id with spaces", "ü-umlaut"]


@pytest.mark.parametrize("message_id", HOSTILE)
def test_a_hostile_id_becomes_a_fixed_length_plain_name(message_id: str) -> None:
    stem = file_stem(message_id)
    assert stem.startswith("msg-") and len(stem) == 36
    assert all(c.isalnum() or c == "-" for c in stem)


def test_distinct_hostile_ids_get_distinct_names() -> None:
    assert len({file_stem(m) for m in HOSTILE}) == len(HOSTILE)


def test_a_plain_id_keeps_its_name() -> None:
    assert file_stem("0193a7c2-5b1e-7c00-8000-000000000001") == "0193a7c2-5b1e-7c00-8000-000000000001"
    assert file_stem("RR123456785DE") == "RR123456785DE"


def test_every_hostile_id_is_written_inside_the_folder(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for message_id in HOSTILE:
        _write_inside(inbox, file_stem(message_id) + ".xml", b"<x/>")
    assert sorted(p.parent for p in tmp_path.rglob("*") if p.is_file()) == [inbox] * len(HOSTILE)


def test_writing_outside_the_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        _write_inside(tmp_path, "../escape.xml", b"")
    assert not (tmp_path.parent / "escape.xml").exists()


def test_printable_escapes_control_characters_and_bounds_length() -> None:
    assert printable("a\nb\x00c") == "a\\x0ab\\x00c"
    assert len(printable("x" * 10_000)) <= 121
