"""Inclusion and consistency proofs over the audit Merkle tree (RFC 9162 §2.1.3, §2.1.4).

Proofs are built from the stored perfect-subtree hashes (gateway/store/audit_tree.py) through a
``NodeReader``: one call per proof with O(log n) nodes, whatever the size of the log. The verifiers are
the RFC's algorithms over plain bytes, so that a peer (a witness) or an auditor runs the same code on
what it was sent; they never touch a store.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from gateway.store.audit_tree import (
    EMPTY_ROOT as EMPTY_ROOT, Node as Node, fold, leaf_hash as leaf_hash, node_hash, perfect_cover,
)

NodeReader = Callable[[Sequence[Node]], dict[Node, bytes]]


class ProofError(Exception):
    """A proof cannot be made (bad index or size, hashes missing from the store) or does not verify."""


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(m: int, start: int, end: int) -> list[tuple[int, int]]:
    # PATH(m, D[start:end]) as the ranges whose MTH it lists, leaf side first.
    if end - start <= 1:
        return []
    k = _split(end - start)
    if m < k:
        return _inclusion_ranges(m, start, start + k) + [(start + k, end)]
    return _inclusion_ranges(m - k, start + k, end) + [(start, start + k)]


def _consistency_ranges(m: int, start: int, end: int, whole: bool) -> list[tuple[int, int]]:
    # SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1 as ranges.
    n = end - start
    if m == n:
        return [] if whole else [(start, end)]
    k = _split(n)
    if m <= k:
        return _consistency_ranges(m, start, start + k, whole) + [(start + k, end)]
    return _consistency_ranges(m - k, start + k, end, False) + [(start, start + k)]


def _hashes(ranges: list[tuple[int, int]], read: NodeReader) -> list[bytes]:
    covers = [perfect_cover(a, b) for a, b in ranges]
    wanted = sorted({n for c in covers for n in c})
    got = read(wanted)
    missing = [n for n in wanted if n not in got]
    if missing:
        level, index = missing[0]
        raise ProofError(f"the Merkle tree hashes of entries {index * 2**level + 1}..{(index + 1) * 2**level} are "
                         "not stored (entries deleted or the tree table damaged; run gateway audit verify)")
    return [fold([got[n] for n in c]) for c in covers]


def root(size: int, read: NodeReader) -> bytes:
    """MTH of the first ``size`` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return _hashes([(0, size)], read)[0]


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based: entry seq - 1) in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    return _hashes(_inclusion_ranges(index, 0, size), read)


def consistency_proof(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    """The proof that the tree of ``new_size`` leaves extends the tree of ``old_size`` leaves."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    return _hashes(_consistency_ranges(old_size, 0, new_size, True), read)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises ProofError unless ``leaf`` is leaf ``index`` of the tree with ``root_hash``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root_hash:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2; raises ProofError unless the tree ``new_root`` extends the tree ``old_root``."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"tree size {new_size} is smaller than {old_size}: the log was truncated")
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different root hashes for tree size {old_size}: the log was rewritten")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself the first node
        path.insert(0, old_root)
    if not path:
        raise ProofError("consistency proof is empty")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than expected")
    if fr != old_root:
        raise ProofError(f"the tree of {new_size} entries does not contain the tree of {old_size} entries "
                         "(old root differs: history was rewritten)")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root hash")


# -- text forms ---------------------------------------------------------------------------------------

PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def origin_of(node: str) -> str:
    """The log's name in checkpoints: schema-less, one per node (node names are [a-z0-9.-])."""
    return f"swg/audit/{node}"


def checkpoint_body(node: str, size: int, root_hash: bytes) -> str:
    """The C2SP tlog-checkpoint note text: origin, decimal tree size, standard base64 (padded) root hash."""
    return f"{origin_of(node)}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def proof_text(index: int, entry: bytes, path: Sequence[bytes], checkpoint: str) -> str:
    """C2SP tlog-proof layout: header, ``extra`` = base64 of the entry bytes (the leaf data), ``index``
    (0-based leaf index = seq - 1), the audit path in base64 one hash a line, a blank line, the checkpoint."""
    lines = [PROOF_HEADER, f"extra {base64.b64encode(entry).decode()}", f"index {index}",
             *(base64.b64encode(h).decode() for h in path)]
    return "\n".join(lines) + "\n\n" + checkpoint
