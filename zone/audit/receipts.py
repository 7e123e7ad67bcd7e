"""Receipts a caller can fetch and check offline: the receipt, its chain entry, a Merkle proof.

A receipt bundle (``zone.receipt.v1``, the JSON that ``zone receipt get`` writes) holds the
receipt, its ``release`` audit entry as stored (seq, time, kind, record text, prev hash, hash),
and, when the entry is covered by the latest checkpoint, the RFC 6962 inclusion path of the
entry's hash under that checkpoint's Merkle root, with the checkpoint itself.

:func:`verify_bundle` checks, without the zone: the entry's record is exactly the receipt, the
entry's hash recomputes from its fields, the path leads from that hash to the signed root of a
tree of the signed length, and the checkpoint's signature (against the pinned public key).
So a receipt that verifies was on the chain the zone signed; the zone cannot later deny it or
change it without the regulator's copy of a checkpoint exposing the change.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.audit.chain import canonical_json, entry_hash
from zone.audit.checkpoint import Checkpoint, latest_checkpoint, leaf_hashes, signature_problem
from zone.audit.merkle import inclusion_path, root_of, tree_levels, verify_inclusion
from zone.audit.registry import ReleaseRegistry
from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.state.api import State, Tx

FORMAT = "zone.receipt.v1"


@dataclass(frozen=True)
class StoredEntry:
    """An audit entry exactly as stored (the record as its canonical JSON text)."""

    seq: int
    ts: str
    kind: str
    record_json: str
    prev_hash: str
    hash: str


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
            "proof": None if self.proof is None else {**self.proof.__dict__,
                                                      "path": list(self.proof.path)},
            "checkpoint": None if self.checkpoint is None else self.checkpoint.__dict__,
        }  # fmt: skip


class ReceiptBook:
    """Builds receipt bundles for callers (server side); caches the latest checkpoint's tree."""

    def __init__(self, store: State, registry: ReleaseRegistry) -> None:
        self._store = store
        self._registry = registry
        self._lock = threading.Lock()
        self._cached: tuple[str, list[list[bytes]]] | None = None

    def bundle(self, principal: str, is_admin: bool, release_id: str) -> ReceiptBundle:
        """The receipt of ``release_id`` with its proof, if the caller may see it.

        A caller sees only its own releases; admins see all. Another principal's release and
        an unknown id give the same answer.

        Raises:
            NotFound: no such release visible to the caller.
            FailedPrecondition: the stored chain no longer matches the latest checkpoint.
        """
        try:
            record = self._registry.get(release_id)
        except NotFound:
            raise NotFound("no such receipt", reason="unknown_release") from None
        if not is_admin and record.principal != principal:
            raise NotFound("no such receipt", reason="not_owner")
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log WHERE seq = ?",
                (record.audit_seq,),
            ).fetchone()
            if row is None:
                raise FailedPrecondition("the receipt's audit entry is missing")
            entry = StoredEntry(*row)
            checkpoint = latest_checkpoint(conn)
            if checkpoint is None or entry.seq > checkpoint.length:
                return ReceiptBundle(release_id, record.receipt, entry, None, None)
            levels = self._levels(conn, checkpoint)
        path = tuple(h.hex() for h in inclusion_path(levels, entry.seq - 1))
        proof = InclusionProof(entry.seq - 1, checkpoint.length, path)
        return ReceiptBundle(release_id, record.receipt, entry, proof, checkpoint)

    def _levels(self, conn: Tx, checkpoint: Checkpoint) -> list[list[bytes]]:
        """The checkpoint's tree, rebuilt once per checkpoint and checked against its root."""
        with self._lock:
            if self._cached is not None and self._cached[0] == checkpoint.signature:
                return self._cached[1]
            levels = tree_levels(leaf_hashes(conn, checkpoint.length))
            if root_of(levels).hex() != checkpoint.merkle_root:
                raise FailedPrecondition("the audit chain no longer matches the latest checkpoint")
            self._cached = (checkpoint.signature, levels)
            return levels


def bundle_from_dict(doc: Any) -> ReceiptBundle:
    """Parse a bundle file's JSON object.

    Raises:
        InvalidArgument: not a well-formed receipt bundle.
    """
    try:
        if doc["format"] != FORMAT:
            raise InvalidArgument("not a zone receipt (unknown format)")
        e, p, c = doc["entry"], doc["proof"], doc["checkpoint"]
        entry = StoredEntry(int(e["seq"]), str(e["ts"]), str(e["kind"]), str(e["record_json"]),
                            str(e["prev_hash"]), str(e["hash"]))  # fmt: skip
        proof = None
        if p is not None:
            path = tuple(str(h) for h in p["path"])
            proof = InclusionProof(int(p["leaf_index"]), int(p["tree_size"]), path)
        checkpoint = None if c is None else Checkpoint.from_dict(c)
        receipt = doc["receipt"]
        if not isinstance(receipt, dict):
            raise InvalidArgument("the receipt is not a JSON object")
        return ReceiptBundle(str(doc["release_id"]), receipt, entry, proof, checkpoint)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument("not a zone receipt (missing or malformed field)") from exc


def load_bundle(text: str) -> ReceiptBundle:
    """Parse a bundle file's text.

    Raises:
        InvalidArgument: not JSON or not a well-formed bundle.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument("the receipt file is not JSON") from exc
    return bundle_from_dict(doc)


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
    if canonical_json(dict(bundle.receipt)) != entry.record_json:
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
