"""Receipt bundles: a receipt, its audit entry and Merkle proof, checked offline.

A receipt bundle (``zone.receipt.v1``, the JSON that ``zone receipt get`` writes) holds the
receipt, its ``release`` audit entry as stored (seq, time, kind, record text, prev hash, hash),
and, when the entry is covered by the latest checkpoint, the RFC 6962 inclusion path of the
entry's hash under that checkpoint's Merkle root, with the checkpoint itself.

:func:`verify_bundle` checks, without the zone: the entry's record is exactly the receipt, the
entry's hash recomputes from its fields, the path leads from that hash to the signed root of a
tree of the signed length, and the checkpoint's signature (against the pinned public key).
So a receipt that verifies was on the chain the zone signed; the zone cannot later deny it or
change it without the regulator's copy of a checkpoint exposing the change. Bundle files are
read strictly: a repeated key anywhere, or a field the format does not define, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.wire.checkpoint import Checkpoint, signature_problem
from zone.wire.entries import StoredEntry, entry_hash
from zone.wire.jsontext import (
    MalformedEvidence,
    canonical_json,
    int_field,
    load_strict,
    require_fields,
    text_field,
)
from zone.wire.merkle import verify_inclusion

FORMAT = "zone.receipt.v1"
BUNDLE_FIELDS = ("format", "release_id", "receipt", "entry", "proof", "checkpoint")
ENTRY_FIELDS = ("seq", "ts", "kind", "record_json", "prev_hash", "hash")
PROOF_FIELDS = ("leaf_index", "tree_size", "path")
_WHAT = "the receipt file"


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``leaf_index`` (= seq - 1) of the tree of ``tree_size`` leaves; path bottom up (hex)."""

    leaf_index: int
    tree_size: int
    path: tuple[str, ...]


@dataclass(frozen=True)
class ReceiptBundle:
    """A receipt with what proves it.

    ``proof`` and ``checkpoint`` are None when the entry is newer than the latest checkpoint
    (fetch the receipt again after the next one).
    """

    release_id: str
    receipt: Mapping[str, Any]
    entry: StoredEntry
    proof: InclusionProof | None
    checkpoint: Checkpoint | None

    def to_dict(self) -> dict[str, Any]:
        """The bundle file's JSON object."""
        return {
            "format": FORMAT,
            "release_id": self.release_id,
            "receipt": dict(self.receipt),
            "entry": self.entry.__dict__,
            "proof": None
            if self.proof is None
            else {**self.proof.__dict__, "path": list(self.proof.path)},
            "checkpoint": None if self.checkpoint is None else self.checkpoint.__dict__,
        }


def _entry(doc: Any) -> StoredEntry:
    what = "the receipt's entry"
    e = require_fields(doc, ENTRY_FIELDS, what)
    text = [text_field(e, name, what) for name in ENTRY_FIELDS[1:]]
    return StoredEntry(int_field(e, "seq", what, minimum=1), *text)


def _proof(doc: Any) -> InclusionProof | None:
    if doc is None:
        return None
    what = "the receipt's proof"
    p = require_fields(doc, PROOF_FIELDS, what)
    path = p["path"]
    if not isinstance(path, list) or not all(isinstance(h, str) for h in path):
        raise MalformedEvidence(f"{what} field 'path' must be a list of hex hashes")
    return InclusionProof(
        int_field(p, "leaf_index", what), int_field(p, "tree_size", what), tuple(path)
    )


def bundle_from_dict(doc: Any) -> ReceiptBundle:
    """Parse a bundle file's JSON object.

    Raises:
        MalformedEvidence: not a well-formed receipt bundle, or a field the format does not
            define.
    """
    doc = require_fields(doc, BUNDLE_FIELDS, _WHAT)
    if doc["format"] != FORMAT:
        raise MalformedEvidence("not a zone receipt (unknown format)")
    receipt = doc["receipt"]
    if not isinstance(receipt, dict):
        raise MalformedEvidence("the receipt is not a JSON object")
    checkpoint = None if doc["checkpoint"] is None else Checkpoint.from_dict(doc["checkpoint"])
    return ReceiptBundle(
        text_field(doc, "release_id", _WHAT),
        receipt,
        _entry(doc["entry"]),
        _proof(doc["proof"]),
        checkpoint,
    )


def load_bundle(text: str | bytes) -> ReceiptBundle:
    """Parse a bundle file's text (strictly: no repeated keys, no unknown fields).

    Raises:
        MalformedEvidence: not JSON or not a well-formed bundle.
    """
    return bundle_from_dict(load_strict(text, _WHAT))


def verify_bundle(
    bundle: ReceiptBundle,
    checkpoint: Checkpoint | None = None,
    trusted: Ed25519PublicKey | None = None,
) -> str:
    """Check a receipt offline; return "" when it verifies, else the first problem in words.

    Args:
        bundle: The receipt bundle.
        checkpoint: The checkpoint to check against (default: the one in the bundle).
        trusted: The zone's published public key (default: the key carried in the checkpoint,
            which proves only that the checkpoint's maker held that key).

    Returns:
        "" or why the receipt does not verify.
    """
    entry = bundle.entry
    if entry.kind != "release":
        return f"the entry is a {entry.kind!r} record, not a release receipt"
    try:
        receipt_text = canonical_json(dict(bundle.receipt))
    except (TypeError, ValueError):
        return "the receipt is not representable as canonical JSON"
    if receipt_text != entry.record_json:
        return "the receipt differs from the record on the audit chain"
    if bundle.receipt.get("release_id") != bundle.release_id:
        return "the receipt is for another release id"
    recomputed = entry_hash(entry.prev_hash, entry.seq, entry.ts, entry.kind, entry.record_json)
    if recomputed != entry.hash:
        return "the entry's hash does not match its fields"
    checkpoint = checkpoint or bundle.checkpoint
    if bundle.proof is None or checkpoint is None:
        return "no inclusion proof: the receipt is newer than the latest checkpoint"
    return _proof_problem(bundle.proof, entry, checkpoint) or signature_problem(checkpoint, trusted)


def _proof_problem(proof: InclusionProof, entry: StoredEntry, checkpoint: Checkpoint) -> str:
    if proof.tree_size != checkpoint.length:
        return (
            f"the proof is for a checkpoint of {proof.tree_size} entries, this checkpoint has "
            f"{checkpoint.length}: use the receipt's own checkpoint or fetch the receipt again"
        )
    if proof.leaf_index != entry.seq - 1:
        return "the proof is for another entry"
    try:
        path = [bytes.fromhex(h) for h in proof.path]
        leaf, root = bytes.fromhex(entry.hash), bytes.fromhex(checkpoint.merkle_root)
    except ValueError:
        return "the proof holds a malformed hash"
    if not verify_inclusion(leaf, proof.leaf_index, proof.tree_size, path, root):
        return "the inclusion proof does not lead to the checkpoint's Merkle root"
    return ""
