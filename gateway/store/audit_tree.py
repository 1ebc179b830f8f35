"""The audit log's Merkle tree (RFC 9162 §2.1): hashing, and the stored hashes that make proofs cheap.

Entry ``seq`` is leaf ``seq - 1``; its leaf hash is ``SHA-256(0x00 || entry bytes)`` (audit_log.entry_bytes)
and an inner node is ``SHA-256(0x01 || left || right)``. The writer stores, in the transaction that
appends the entries, every *perfect* subtree hash: node ``(level, index)`` covers leaves
``[index * 2^level, (index + 1) * 2^level)``. A tree of any size is a fold of at most log2(n) of them
(``perfect_cover``), so a root, an inclusion proof or a consistency proof reads O(log n) rows, never the log.

Only ``hashlib`` here: the store appends leaves without importing gateway.evidence, which builds and
verifies proofs from these functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

Node = tuple[int, int]  # (level, index)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def frontier(size: int) -> list[Node]:
    """The perfect subtrees a tree of ``size`` leaves ends with, largest first: one per bit set in ``size``."""
    return perfect_cover(0, size)


def perfect_cover(start: int, end: int) -> list[Node]:
    """The perfect subtrees whose fold is RFC 9162's MTH(D[start:end]), left to right.

    Valid for the ranges RFC 9162's recursion produces (``start`` a multiple of the largest power of two
    below ``end - start``): each step takes the largest power of two smaller than what is left (all of it
    when that is a power of two), which is exactly how MTH splits.
    """
    out: list[Node] = []
    while start < end:
        n = end - start
        k = 1 << (n.bit_length() - 1)
        level = k.bit_length() - 1
        out.append((level, start >> level))
        start += k
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect cover's hashes: the right edge is hashed in first."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def append_leaves(size: int, edge: Mapping[Node, bytes], leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
    """The nodes (level, index, hash) that appending ``leaves`` (leaf hashes) to a tree of ``size`` creates.

    ``edge`` holds the hashes of ``frontier(size)``: every left sibling a new node needs is there or was
    made by this call, so no other row is read.
    """
    known = dict(edge)
    out: list[tuple[int, int, bytes]] = []
    for h in leaves:
        level, index = 0, size
        known[(0, index)] = h
        out.append((0, index, h))
        while index & 1:
            # Both children are inside a completed subtree now: only the right edge is kept.
            h = node_hash(known.pop((level, index - 1)), h)
            del known[(level, index)]
            level, index = level + 1, index >> 1
            known[(level, index)] = h
            out.append((level, index, h))
        size += 1
    return out
