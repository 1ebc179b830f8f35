"""`bench.crypto_micro`: both crypto profiles are measured in one run, with every figure."""

from __future__ import annotations

from bench import crypto_micro
from gateway.testing.federation import Federation


def test_both_profiles_are_measured_side_by_side(federation: Federation) -> None:
    classic, hybrid = crypto_micro.compare(federation, messages=3, recipients=2)
    assert (classic["profile"], hybrid["profile"]) == ("classic", "hybrid-pq")
    for row in (classic, hybrid):
        for f in crypto_micro.FIELDS:
            assert isinstance(row[f], (int, float)) and row[f] > 0, (row["profile"], f, row)
    # A hybrid KEK seal carries the 1120-byte X-Wing encapsulation per recipient and a 3309-byte ML-DSA-65
    # signature (base64url): at least that much more per envelope.
    assert hybrid["envelope_bytes"] - classic["envelope_bytes"] >= 2 * 1088 + 4412
    assert "hybrid-pq" in crypto_micro.table([classic, hybrid])
