"""The name rules every module shares: a valid name is matched whole, with nothing after it."""

import pytest

from gateway import ids


@pytest.mark.parametrize("value", ["DE/POST/DPAG", "FR/CUSTOMS/DGDDI", "AU/POST/AP_1"])
def test_participant_ids_that_are_valid(value: str) -> None:
    assert ids.is_participant_id(value)


@pytest.mark.parametrize("value", ["DE/POST/DPAG\n", "de/POST/DPAG", "DE/POST", "DE/POST/DPAG/X", "DE/POST/\x00",
                                   "", "DEU/POST/DPAG", " DE/POST/DPAG"])
def test_participant_ids_that_are_refused(value: str) -> None:
    assert not ids.is_participant_id(value)


def test_node_names_are_dns_labels() -> None:
    assert ids.is_node_name("de-node")
    assert not ids.is_node_name("de-node\n")
    assert not ids.is_node_name("de.node")
    assert not ids.is_node_name("-de")
    assert not ids.is_node_name("a" * 64)


def test_message_ids_refuse_a_trailing_newline_and_path_tricks() -> None:
    assert ids.is_message_id("RR123456785DE")
    assert ids.is_message_id("urn:uuid:0b5c1e1e-7d1e-4a53-9a43-5c1b9b0a7c10")
    assert not ids.is_message_id("RR123456785DE\n")
    assert not ids.is_message_id("../etc/passwd")
    assert not ids.is_message_id("x" * 129)


def test_addresses() -> None:
    assert ids.is_address("127.0.0.1:7443")
    assert ids.is_address("[::1]:7443")
    assert ids.is_address("gw.example.org:443")
    assert not ids.is_address("gw.example.org:443\n")
    assert not ids.is_address("gw.example.org")
