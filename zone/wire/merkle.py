"""RFC 6962 Merkle hashing of the audit chain, and inclusion proof verification (RFC 9162).

Leaves are the entries' SHA-256 hashes (32 raw bytes each), in ``seq`` order. The leaf hash is
``SHA-256(0x00 || leaf)``, an interior node ``SHA-256(0x01 || left || right)``: the prefixes
keep a leaf from ever being taken for a node (second-preimage resistance). A tree of ``n``
leaves splits at the largest power of two below ``n``. Building trees and proofs is the zone's
side (``zone.audit.merkle``); checking a proof needs only this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of a tree with no leaves (RFC 6962: the hash of the empty string)."""


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves ``leaf`` is leaf ``index`` of a tree of ``tree_size`` under ``root``.

    The algorithm of RFC 9162, section 2.1.3.2.

    Args:
        leaf: The leaf itself (not its hash).
        index: Its position, from 0.
        tree_size: Number of leaves of the tree the root belongs to.
        path: The audit path, bottom up.
        root: The expected root.

    Returns:
        True only if the path leads from the leaf to ``root`` in a tree of exactly that size.
    """
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
