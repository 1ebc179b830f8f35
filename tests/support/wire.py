"""Protobuf wire bytes written by hand, for tests that need fields no schema defines (unknown fields)."""

from __future__ import annotations


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field ``number`` holding ``payload`` (any field number, known or not)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload
