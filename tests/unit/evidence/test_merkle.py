"""The Merkle tree against RFC 9162 written out here from the RFC's own recursive definitions (§2.1.1,
§2.1.3.1, §2.1.4.1), over plain lists of leaves: proofs the product makes from stored subtree hashes must be
the RFC's, and the product's verifiers must accept exactly those and refuse any change to them."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.evidence import merkle
from gateway.evidence.merkle import ProofError


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1, leaves being the entries' data."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of §2.1.3.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of §2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


class Tree:
    """Perfect-subtree hashes {(level, index): hash} as the store keeps them, computed here from the RFC."""

    def __init__(self, leaves: list[bytes]):
        self.nodes: dict[tuple[int, int], bytes] = {}
        level, size = 0, 1
        while size <= len(leaves):
            for i in range(len(leaves) // size):
                self.nodes[(level, i)] = mth(leaves[i * size:(i + 1) * size])
            level, size = level + 1, size * 2

    def read(self, wanted: object) -> dict[tuple[int, int], bytes]:
        return {n: self.nodes[n] for n in wanted if n in self.nodes}  # type: ignore[attr-defined]


def tree_of(leaves: list[bytes]) -> Tree:
    return Tree(leaves)


def inclusion_ok(leaf: bytes, m: int, n: int, proof: list[bytes], head: bytes) -> bool:
    try:
        merkle.verify_inclusion(m, n, leaf, proof, head)
    except ProofError:
        return False
    return True


def consistency_ok(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    try:
        merkle.verify_consistency(m, n, old, new, proof)
    except ProofError:
        return False
    return True


LEAVES = [f"entry {i}".encode() for i in range(70)]
TREE = tree_of(LEAVES)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 70])
def test_roots_are_the_rfc_tree_head(n: int) -> None:
    assert merkle.root(n, TREE.read) == mth(LEAVES[:n])


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert merkle.root(0, TREE.read) == mth([]) == hashlib.sha256(b"").digest()


def test_every_inclusion_proof_is_the_rfc_path_and_verifies() -> None:
    for n in range(1, 40):
        head = mth(LEAVES[:n])
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, TREE.read)
            assert proof == path(m, LEAVES[:n]), (m, n)
            assert inclusion_ok(merkle.leaf_hash(LEAVES[m]), m, n, proof, head)


def test_every_consistency_proof_is_the_rfc_proof_and_verifies() -> None:
    for n in range(1, 40):
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, TREE.read)
            assert proof == subproof(m, LEAVES[:n], True), (m, n)
            assert consistency_ok(m, n, mth(LEAVES[:m]), mth(LEAVES[:n]), proof), (m, n)


def test_a_changed_proof_or_claim_fails_inclusion() -> None:
    n, m = 37, 21
    head, leaf = mth(LEAVES[:n]), merkle.leaf_hash(LEAVES[m])
    proof = merkle.inclusion_proof(m, n, TREE.read)
    assert not inclusion_ok(merkle.leaf_hash(b"another entry"), m, n, proof, head)
    assert not inclusion_ok(leaf, m + 1, n, proof, head)
    assert not inclusion_ok(leaf, m, 16, proof, head)  # (the size is bound to the head by its signature)
    assert not inclusion_ok(leaf, m, n, proof[:-1], head)
    assert not inclusion_ok(leaf, m, n, proof + [head], head)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 1]) + flipped[i][1:]
        assert not inclusion_ok(leaf, m, n, flipped, head)


def test_a_rewritten_history_fails_consistency() -> None:
    m, n = 13, 37
    proof = merkle.consistency_proof(m, n, TREE.read)
    old, new = mth(LEAVES[:m]), mth(LEAVES[:n])
    # Another history of the first 13 entries (one entry edited) is not the prefix of the new tree.
    forged = list(LEAVES[:m])
    forged[5] = b"edited"
    assert not consistency_ok(m, n, mth(forged), new, proof)
    # A tree that was truncated and regrown differently after the old head does not extend it.
    regrown = LEAVES[:10] + [b"other"] * (n - 10)
    assert not consistency_ok(m, n, old, mth(regrown), proof)
    assert not consistency_ok(m, n, old, new, proof[:-1])
    assert not consistency_ok(m, n, old, new, [])
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 0x80]) + flipped[i][1:]
        assert not consistency_ok(m, n, old, new, flipped)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=90), st.data())
def test_any_log_proves_any_entry_and_any_earlier_head(leaves: list[bytes], data: st.DataObject) -> None:
    t = tree_of(leaves)
    n = len(leaves)
    m = data.draw(st.integers(0, n - 1))
    assert merkle.inclusion_proof(m, n, t.read) == path(m, leaves)
    old = data.draw(st.integers(1, n))
    proof = merkle.consistency_proof(old, n, t.read)
    assert proof == subproof(old, leaves, True)
    assert consistency_ok(old, n, mth(leaves[:old]), mth(leaves), proof)
