"""The audit Merkle tree as the store keeps it: roots, inclusion and consistency proofs checked by an RFC 9162
verifier written here from the RFC text (§2.1.1, §2.1.3.2, §2.1.4.2), not the product's code."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gateway.evidence import audit, merkle
from gateway.store import Store
from gateway.store.audit_log import leaf_bytes
from tests.support.rfc9162 import rfc_mth, rfc_verify_consistency, rfc_verify_inclusion


# -- the store's tree ---------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'tree.db'}")
    s.create_schema()
    yield s
    s.close()


def _append(store: Store, batches: Sequence[int]) -> list[bytes]:
    at = 1_000_000
    for n in batches:
        store.append_audit([audit.AuditEvent(audit.ACCEPTED, f"m-{at}-{i}", actor="DE/POST/MAIN",
                                             detail={"i": i}) for i in range(n)], at).result()
        at += 1
    return [leaf_bytes(e) for e in store.audit_entries()]


def test_the_stored_tree_has_the_rfc_root_at_every_size(store: Store) -> None:
    leaves = _append(store, [1, 2, 5, 1, 8, 3])
    for size in range(len(leaves) + 1):
        assert merkle.root(size, store.audit_tree_nodes) == rfc_mth(leaves[:size])


def test_every_entry_has_an_inclusion_proof_the_rfc_verifier_accepts(store: Store) -> None:
    leaves = _append(store, [3, 1, 9, 4])
    for size in (1, 2, 7, 16, len(leaves)):
        root = rfc_mth(leaves[:size])
        for i in range(size):
            proof = merkle.inclusion_proof(i, size, store.audit_tree_nodes)
            assert rfc_verify_inclusion(i, size, leaves[i], proof, root)
            assert not rfc_verify_inclusion(i, size, leaves[i] + b"x", proof, root)


def test_consistency_proofs_between_any_two_sizes_verify_and_a_rewrite_does_not(store: Store) -> None:
    leaves = _append(store, [2, 3, 6, 1, 7])
    n = len(leaves)
    for old in range(1, n + 1):  # RFC 9162 defines no proof from the empty tree
        for new in range(old, n + 1):
            proof = merkle.consistency_proof(old, new, store.audit_tree_nodes)
            assert rfc_verify_consistency(old, new, rfc_mth(leaves[:old]), rfc_mth(leaves[:new]), proof), (old, new)
            merkle.verify_consistency(old, new, rfc_mth(leaves[:old]), rfc_mth(leaves[:new]), proof)
    rewritten = [b"forged"] + leaves[1:6]
    with pytest.raises(merkle.ProofError, match="rewritten"):
        merkle.verify_consistency(6, n, rfc_mth(rewritten), rfc_mth(leaves),
                                  merkle.consistency_proof(6, n, store.audit_tree_nodes))


def test_the_product_verifiers_refuse_what_the_rfc_refuses(store: Store) -> None:
    leaves = _append(store, [11])
    root = rfc_mth(leaves)
    proof = merkle.inclusion_proof(4, 11, store.audit_tree_nodes)
    merkle.verify_inclusion(4, 11, merkle.leaf_hash(leaves[4]), proof, root)
    for bad_index, bad_proof in ((5, proof), (4, proof[:-1]), (4, [*proof, proof[0]]), (4, [proof[1], proof[0],
                                                                                               *proof[2:]])):
        assert not rfc_verify_inclusion(bad_index, 11, leaves[4], bad_proof, root)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(bad_index, 11, merkle.leaf_hash(leaves[4]), bad_proof, root)
    with pytest.raises(merkle.ProofError, match="truncated"):
        merkle.verify_consistency(11, 5, root, rfc_mth(leaves[:5]), [])


def test_a_proof_reads_a_logarithmic_number_of_nodes_in_one_query(store: Store) -> None:
    _append(store, [200, 300, 500, 24])  # 1024 entries
    calls: list[int] = []

    def reader(nodes: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        calls.append(len(nodes))
        return store.audit_tree_nodes(nodes)

    merkle.inclusion_proof(700, 1023, reader)
    merkle.consistency_proof(333, 1023, reader)
    assert len(calls) == 2 and max(calls) <= 2 * 10


def test_a_tree_with_deleted_hashes_names_the_missing_entries_instead_of_a_wrong_proof(store: Store) -> None:
    _append(store, [8])
    with pytest.raises(merkle.ProofError, match="entries 1..4 are not stored"):
        merkle.inclusion_proof(6, 8, lambda nodes: {n: h for n, h in store.audit_tree_nodes(nodes).items()
                                                    if n != (2, 0)})
