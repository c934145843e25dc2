"""The log as a Merkle tree in the manner of RFC 6962 / RFC 9162: roots, proofs, checks.

Nodes are addressed as ``(level, index)``: the perfect subtree of ``2**level`` leaves that
starts at leaf ``index * 2**level``. Stores keep every perfect node, so any subtree hash of
any tree size is a handful of lookups and an inclusion proof at a million leaves needs
O(log n) reads, never a recomputation. Verification follows RFC 9162 sections 2.1.3.2 and
2.1.4.2 literally.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from guardgraph.audit._canonical import leaf_hash, node_hash

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "NodeKey",
    "compose",
    "consistency_path",
    "inclusion_path",
    "leaf_of_record_hash",
    "needed_nodes",
    "perfect_cover",
    "root_at",
    "root_from_leaves",
    "root_keys",
    "verify_consistency",
    "verify_inclusion",
]

NodeKey = tuple[int, int]  # (level, index)

# RFC 6962 section 2.1: the hash of an empty list is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

# A subtree of the tree of some size, as the half-open leaf range [start, end).
_Range = tuple[int, int]


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1): where MTH splits."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's definition over leaf *hashes* (for tests and the
    naive baseline); stores compute roots from kept nodes instead."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def perfect_cover(start: int, end: int) -> list[NodeKey]:
    """The perfect nodes, left to right, whose MTH composition is MTH(D[start:end]).

    ``start`` must be aligned as in any subtree of an RFC 6962 tree, which every range the
    proof functions below produce is.
    """
    keys: list[NodeKey] = []
    while end - start > 0:
        n = end - start
        size = n if n & (n - 1) == 0 else _split(n)
        level = size.bit_length() - 1
        keys.append((level, start >> level))
        start += size
    return keys


def root_keys(size: int) -> list[NodeKey]:
    """The perfect nodes whose composition is the root of the tree of ``size`` leaves."""
    return perfect_cover(0, size)


def compose(hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree whose perfect-subtree cover (left to right) has these hashes.

    A cover's right-to-left fold is MTH: each left piece is the larger, perfect half.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_at(size: int, fetch: NodeFetcher) -> bytes:
    """The root of the tree of ``size`` leaves, from the stored nodes of its cover."""
    keys = root_keys(size)
    if not keys:
        return EMPTY_ROOT
    got = fetch(keys)
    return compose([got[k] for k in keys])


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, as subtree ranges, leaf side first."""
    out: list[_Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def _consistency_ranges(old: int, new: int) -> list[_Range]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1, as subtree ranges, in proof order."""
    out: list[_Range] = []
    lo, hi, m, complete = 0, new, old, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    out.reverse()
    return out


def needed_nodes(ranges: Iterable[_Range]) -> list[NodeKey]:
    """Every stored node the given ranges are composed of (for one batched read)."""
    keys: list[NodeKey] = []
    for a, b in ranges:
        keys.extend(perfect_cover(a, b))
    return keys


def _materialise(ranges: Sequence[_Range], fetch: NodeFetcher) -> list[bytes]:
    covers = [perfect_cover(a, b) for a, b in ranges]
    got = fetch([k for cover in covers for k in cover])
    return [compose([got[k] for k in cover]) for cover in covers]


NodeFetcher = Callable[[Sequence[NodeKey]], Mapping[NodeKey, bytes]]


def inclusion_path(index: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _materialise(_inclusion_ranges(index, size), fetch)


def consistency_path(old: int, new: int, fetch: NodeFetcher) -> list[bytes]:
    """The proof that the tree of ``new`` leaves extends the tree of ``old`` leaves."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old == 0 or old == new:
        return []
    return _materialise(_consistency_ranges(old, new), fetch)


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step by step (with the trivial cases of section 2.1.4)."""
    if old < 0 or new < old:
        return False
    if old == new:
        return not path and old_root == new_root
    if old == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if old & (old - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class Frontier:
    """The compact range of a growing tree: its perfect right-edge subtrees.

    Appending is O(log n) amortised and yields every newly completed perfect node, which
    stores persist so that proofs never recompute the tree.
    """

    __slots__ = ("_stack", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        keys = root_keys(size)
        if len(keys) != len(hashes):
            raise ValueError(f"a frontier of size {size} needs {len(keys)} hashes")
        self.size = size
        self._stack: list[tuple[int, int, bytes]] = [
            (lvl, idx, h) for (lvl, idx), h in zip(keys, hashes, strict=True)
        ]

    def append(self, leaf: bytes, out: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add one leaf hash; completed nodes (the leaf included) go to ``out``."""
        stack = self._stack
        node = (0, self.size, leaf)
        if out is not None:
            out.append(node)
        while stack and stack[-1][0] == node[0]:
            lvl, idx, left = stack.pop()
            node = (lvl + 1, idx >> 1, node_hash(left, node[2]))
            if out is not None:
                out.append(node)
        stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return compose([h for _, _, h in self._stack])

    def hashes(self) -> list[bytes]:
        return [h for _, _, h in self._stack]


def leaf_of_record_hash(hash_hex: str) -> bytes:
    """A record's Merkle leaf: the RFC 6962 leaf hash of its 32-byte record digest."""
    return leaf_hash(bytes.fromhex(hash_hex))

