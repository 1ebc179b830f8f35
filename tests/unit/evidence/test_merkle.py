"""The Merkle tree against RFC 9162 written out here from the RFC's own recursive definitions (§2.1.1,
§2.1.3.1, §2.1.4.1), over plain lists of leaves: proofs the product makes from stored subtree hashes must be
the RFC's, and the product's verifiers must accept exactly those and refuse any change to them."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidArgument
from gateway.evidence import merkle


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


def tree_of(leaves: list[bytes]) -> merkle.MemoryTree:
    t = merkle.MemoryTree()
    for leaf in leaves:
        t.append(merkle.leaf_hash(leaf))
    return t


LEAVES = [f"entry {i}".encode() for i in range(70)]
TREE = tree_of(LEAVES)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 70])
def test_roots_are_the_rfc_tree_head(n: int) -> None:
    assert merkle.root(TREE.node, n) == mth(LEAVES[:n])


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert merkle.root(TREE.node, 0) == mth([]) == hashlib.sha256(b"").digest()


def test_every_inclusion_proof_is_the_rfc_path_and_verifies() -> None:
    for n in range(1, 40):
        head = mth(LEAVES[:n])
        for m in range(n):
            proof = merkle.inclusion_proof(TREE.node, m, n)
            assert proof == path(m, LEAVES[:n]), (m, n)
            assert merkle.verify_inclusion(merkle.leaf_hash(LEAVES[m]), m, n, proof, head)


def test_every_consistency_proof_is_the_rfc_proof_and_verifies() -> None:
    for n in range(1, 40):
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(TREE.node, m, n)
            assert proof == subproof(m, LEAVES[:n], True), (m, n)
            assert merkle.verify_consistency(m, n, mth(LEAVES[:m]), mth(LEAVES[:n]), proof), (m, n)


def test_a_changed_proof_or_claim_fails_inclusion() -> None:
    n, m = 37, 21
    head, leaf = mth(LEAVES[:n]), merkle.leaf_hash(LEAVES[m])
    proof = merkle.inclusion_proof(TREE.node, m, n)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"another entry"), m, n, proof, head)
    assert not merkle.verify_inclusion(leaf, m + 1, n, proof, head)
    assert not merkle.verify_inclusion(leaf, m, 16, proof, head)  # (the size is bound to the head by its signature)
    assert not merkle.verify_inclusion(leaf, m, n, proof[:-1], head)
    assert not merkle.verify_inclusion(leaf, m, n, proof + [head], head)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 1]) + flipped[i][1:]
        assert not merkle.verify_inclusion(leaf, m, n, flipped, head)


def test_a_rewritten_history_fails_consistency() -> None:
    m, n = 13, 37
    proof = merkle.consistency_proof(TREE.node, m, n)
    old, new = mth(LEAVES[:m]), mth(LEAVES[:n])
    # Another history of the first 13 entries (one entry edited) is not the prefix of the new tree.
    forged = list(LEAVES[:m])
    forged[5] = b"edited"
    assert not merkle.verify_consistency(m, n, mth(forged), new, proof)
    # A tree that was truncated and regrown differently after the old head does not extend it.
    regrown = LEAVES[:10] + [b"other"] * (n - 10)
    assert not merkle.verify_consistency(m, n, old, mth(regrown), proof)
    assert not merkle.verify_consistency(m, n, old, new, proof[:-1])
    assert not merkle.verify_consistency(m, n, old, new, [])
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 0x80]) + flipped[i][1:]
        assert not merkle.verify_consistency(m, n, old, new, flipped)


def test_sizes_outside_the_tree_are_refused_by_name() -> None:
    with pytest.raises(InvalidArgument, match="leaf 5 is not in a tree of 5"):
        merkle.inclusion_proof(TREE.node, 5, 5)
    with pytest.raises(InvalidArgument, match="from a tree of 0"):
        merkle.consistency_proof(TREE.node, 0, 5)
    with pytest.raises(InvalidArgument, match="from a tree of 6 to one of 5"):
        merkle.consistency_proof(TREE.node, 6, 5)


def test_append_reports_the_subtrees_it_completed() -> None:
    t = merkle.MemoryTree()
    made = [t.append(merkle.leaf_hash(leaf)) for leaf in LEAVES[:8]]
    assert [len(x) for x in made] == [1, 2, 1, 3, 1, 2, 1, 4]
    assert made[7][-1] == (3, 0, mth(LEAVES[:8]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=90), st.data())
def test_any_log_proves_any_entry_and_any_earlier_head(leaves: list[bytes], data: st.DataObject) -> None:
    t = tree_of(leaves)
    n = len(leaves)
    m = data.draw(st.integers(0, n - 1))
    assert merkle.inclusion_proof(t.node, m, n) == path(m, leaves)
    old = data.draw(st.integers(1, n))
    proof = merkle.consistency_proof(t.node, old, n)
    assert proof == subproof(old, leaves, True)
    assert merkle.verify_consistency(old, n, mth(leaves[:old]), mth(leaves), proof)
