"""A Merkle tree over the audit chain's entry hashes, as in RFC 6962 (section 2.1).

Leaves are the entries' SHA-256 hashes (32 raw bytes each), in ``seq`` order. The leaf hash is
``SHA-256(0x00 || leaf)``, an interior node ``SHA-256(0x01 || left || right)``: the prefixes
keep a leaf from ever being taken for a node (second-preimage resistance). A tree of ``n``
leaves splits at the largest power of two below ``n``.

The tree is built level by level: adjacent nodes are paired and an unpaired last node moves up
unchanged. That yields exactly RFC 6962's tree (a test compares it with the recursive
definition), and an audit path is the list of siblings met on the way up, skipping the levels
where the node had none. Hashing and proof verification (RFC 9162, section 2.1.3.2) are shared
with the SDK in ``zone.wire.merkle``; this module builds trees and proofs on the zone's side.
"""

from __future__ import annotations

from collections.abc import Sequence

from zone.wire.merkle import EMPTY_ROOT, leaf_hash, node_hash


def tree_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, from the leaf hashes (level 0) up to the root (last level).

    Args:
        leaves: The leaves in order (for the audit chain: 32-byte entry hashes).

    Returns:
        The levels; ``[[]]`` for no leaves. The root is ``levels[-1][0]`` when there are leaves.
    """
    level = [leaf_hash(leaf) for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])  # no sibling: moves up unchanged
        level = paired
        levels.append(level)
    return levels


def root_of(levels: Sequence[Sequence[bytes]]) -> bytes:
    """The root of a tree given by :func:`tree_levels` (``EMPTY_ROOT`` for no leaves)."""
    return levels[-1][0] if levels[-1] else EMPTY_ROOT


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of ``leaves``."""
    return root_of(tree_levels(leaves))


def inclusion_path(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` (RFC 6962 ``PATH(index, D[n])``), bottom up.

    Raises:
        ValueError: ``index`` is not a leaf of the tree.
    """
    if not 0 <= index < len(levels[0]):
        raise ValueError("leaf index outside the tree")
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path
