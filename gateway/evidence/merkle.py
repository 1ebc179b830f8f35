"""RFC 9162 (RFC 6962) Merkle tree hashing, inclusion and consistency proofs over stored subtree hashes.

The log keeps the hash of every *complete* subtree: ``node(level, index)`` is the root of leaves
``[index * 2**level, (index + 1) * 2**level)``. Every range the RFC's recursive definitions split a tree of
size n into is either such a subtree or a right edge made of O(log n) of them, so a root or a proof costs
O(log² n) reads and never a walk of the leaves. Verification (``verify_inclusion``, ``verify_consistency``)
follows RFC 9162 §2.1.3.2 and §2.1.4.2 literally, so any RFC 6962 verifier gives the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from gateway.errors import InvalidArgument

HASH_LEN = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

# node(level, index): the stored root of a complete subtree (see the module docstring).
NodeSource = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(node: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion produces: ``start`` is a multiple of the largest
    power of two not above ``end - start``'s span, so the range is complete subtrees, largest first."""
    size = end - start
    if size <= 0:
        raise InvalidArgument("an empty range has no subtree hash")
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(range_hash(node, start, start + k), range_hash(node, start + k, end))


def root(node: NodeSource, size: int) -> bytes:
    """The tree head hash of the first ``size`` leaves."""
    return EMPTY_ROOT if size == 0 else range_hash(node, 0, size)


def inclusion_proof(node: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise InvalidArgument(f"leaf {index} is not in a tree of {size} entries")
    proof: list[bytes] = []
    start, end = 0, size
    # Walk down from the root, collecting the sibling of each half the leaf is in; reversed at the end.
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(range_hash(node, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(node, start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(node: NodeSource, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1."""
    if not 0 < old <= new:
        raise InvalidArgument(f"no consistency proof from a tree of {old} to one of {new} entries")
    proof: list[bytes] = []
    start, end, complete = 0, new, True
    m = old
    # SUBPROOF(m, D[start:end], complete), iteratively; siblings are collected root side first.
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(range_hash(node, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(range_hash(node, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(node, start, start + k))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, with ``leaf`` the leaf hash."""
    if not 0 <= index < size or any(len(p) != HASH_LEN for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 < old <= new or any(len(p) != HASH_LEN for p in proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: the old root is the proof's implicit first element
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class MemoryTree:
    """Complete-subtree hashes of an append-only list of leaves, kept in memory: ``levels[l][i]`` is
    node(l, i). The stored log writes the same nodes as rows; verifiers and tests use this."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the (level, index, hash) nodes it completed, itself first."""
        made = [(0, self.size, leaf)]
        self.levels[0].append(leaf)
        level, index = 0, self.size - 1
        while index & 1:
            left, right = self.levels[level][index - 1], self.levels[level][index]
            level, index = level + 1, index >> 1
            if len(self.levels) == level:
                self.levels.append([])
            h = node_hash(left, right)
            self.levels[level].append(h)
            made.append((level, index, h))
        return made

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]
