"""The level-by-level tree is RFC 6962's recursive one; proofs verify only as they should."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone.audit.merkle import inclusion_path, merkle_root, root_of, tree_levels
from zone.wire.merkle import EMPTY_ROOT, leaf_hash, node_hash, verify_inclusion


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 defines it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _split(len(leaves))
    return hashlib.sha256(b"\x01" + rfc_root(leaves[:k]) + rfc_root(leaves[k:])).digest()


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 6962 section 2.1.1 defines it."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return rfc_path(m, leaves[:k]) + [rfc_root(leaves[k:])]
    return rfc_path(m - k, leaves[k:]) + [rfc_root(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest() for i in range(n)]


def test_known_values() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    a, b = _leaves(2)
    assert merkle_root([a]) == leaf_hash(a) == hashlib.sha256(b"\x00" + a).digest()
    assert merkle_root([a, b]) == node_hash(leaf_hash(a), leaf_hash(b))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=70))
def test_tree_and_paths_equal_the_rfc_definition(n: int) -> None:
    leaves = _leaves(n)
    levels = tree_levels(leaves)
    root = root_of(levels)
    assert root == rfc_root(leaves)
    for m in range(n):
        path = inclusion_path(levels, m)
        assert path == rfc_path(m, leaves)
        assert verify_inclusion(leaves[m], m, n, path, root)


@pytest.mark.parametrize("n", [2, 3, 7, 8, 13])
def test_wrong_leaf_index_path_or_root_is_refused(n: int) -> None:
    leaves = _leaves(n)
    levels = tree_levels(leaves)
    root = root_of(levels)
    for m in range(n):
        path = inclusion_path(levels, m)
        assert not verify_inclusion(leaves[m], (m + 1) % n, n, path, root)
        assert not verify_inclusion(b"x" * 32, m, n, path, root)
        assert not verify_inclusion(leaves[m], m, n, path, b"\x00" * 32)
        assert not verify_inclusion(leaves[m], m, n, path[:-1], root)
        assert not verify_inclusion(leaves[m], m, n, [*path, root], root)
        flipped = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        assert not verify_inclusion(leaves[m], m, n, flipped, root)
    assert not verify_inclusion(leaves[0], n, n, [], root)
    assert not verify_inclusion(leaves[0], -1, n, [], root)
    with pytest.raises(ValueError):
        inclusion_path(levels, n)
