"""The Merkle code against RFC 6962's published test vectors (certificate-transparency-go /
Trillian testdata, the 8-leaf tree), plus exhaustive agreement with the RFC definition."""

from __future__ import annotations

import random

import pytest

from guardgraph.audit._canonical import leaf_hash, node_hash
from guardgraph.audit._merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_path,
    inclusion_path,
    root_from_leaves,
    root_keys,
    verify_consistency,
    verify_inclusion,
)

INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAVES_HEX = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
ROOTS_HEX = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def _tree(leaves: list[bytes]) -> tuple[Frontier, dict[tuple[int, int], bytes]]:
    tree = Frontier()
    out: list[tuple[int, int, bytes]] = []
    for leaf in leaves:
        tree.append(leaf, out)
    return tree, {(lvl, idx): h for lvl, idx, h in out}


LEAVES = [leaf_hash(x) for x in INPUTS]
FRONTIER, NODES = _tree(LEAVES)


def fetch(keys):
    return {k: NODES[k] for k in keys}


def test_leaf_hashes_match_the_vectors() -> None:
    assert [h.hex() for h in LEAVES] == LEAVES_HEX


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS_HEX[0]
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_per_size_match_the_vectors(size: int) -> None:
    assert root_from_leaves(LEAVES[:size]).hex() == ROOTS_HEX[size]
    tree, nodes = _tree(LEAVES[:size])
    assert tree.root().hex() == ROOTS_HEX[size]
    # the root from stored perfect nodes, as stores compute it
    keys = root_keys(size)
    if keys:
        acc = nodes[keys[-1]]
        for k in reversed(keys[:-1]):
            acc = node_hash(nodes[k], acc)
        assert acc.hex() == ROOTS_HEX[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, path: list[str]) -> None:
    got = inclusion_path(index, size, fetch)
    assert [h.hex() for h in got] == path
    root = bytes.fromhex(ROOTS_HEX[size])
    assert verify_inclusion(LEAVES[index], index, size, got, root)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors(old: int, new: int, path: list[str]) -> None:
    got = consistency_path(old, new, fetch)
    assert [h.hex() for h in got] == path
    assert verify_consistency(
        old, new, bytes.fromhex(ROOTS_HEX[old]), bytes.fromhex(ROOTS_HEX[new]), got
    )


def test_every_proof_of_a_random_tree_agrees_with_the_rfc_definition() -> None:
    rng = random.Random(6962)
    leaves = [leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(70)]
    _, nodes = _tree(leaves)
    get = lambda keys: {k: nodes[k] for k in keys}  # noqa: E731
    roots = [root_from_leaves(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for i in range(n):
            path = inclusion_path(i, n, get)
            assert verify_inclusion(leaves[i], i, n, path, roots[n])
            assert not verify_inclusion(leaves[i], i, n, path, roots[n - 1])
        for m in range(0, n + 1):
            path = consistency_path(m, n, get)
            assert verify_consistency(m, n, roots[m], roots[n], path)


def test_vector_proofs_fail_with_a_wrong_leaf_or_root() -> None:
    path = inclusion_path(5, 8, fetch)
    root = bytes.fromhex(ROOTS_HEX[8])
    assert not verify_inclusion(LEAVES[4], 5, 8, path, root)
    # a path of the 8-leaf tree does not lead to the 7-leaf root (size and root are
    # signed together in a checkpoint, so the pair is what a verifier checks)
    assert not verify_inclusion(LEAVES[5], 5, 7, path, bytes.fromhex(ROOTS_HEX[7]))
    assert not verify_inclusion(LEAVES[5], 8, 8, path, root)
    cons = consistency_path(6, 8, fetch)
    assert not verify_consistency(6, 8, bytes.fromhex(ROOTS_HEX[5]), root, cons)
    assert not verify_consistency(8, 6, root, bytes.fromhex(ROOTS_HEX[6]), cons)


def test_proof_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError, match="outside a tree of size 8"):
        inclusion_path(8, 8, fetch)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_path(9, 8, fetch)
