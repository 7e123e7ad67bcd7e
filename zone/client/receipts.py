"""Receipts on the SDK side: the reply of ``GetReceipt`` as a bundle that verifies offline.

``client.get_receipt(release_id)`` returns a :class:`~zone.wire.receipts.ReceiptBundle`;
``write_bundle`` saves it as the JSON file ``zone receipt verify`` checks, and
:func:`~zone.wire.receipts.verify_bundle` checks it in-process. The reply's receipt and
checkpoint are read strictly (a repeated key or an undefined field is refused).
"""

from __future__ import annotations

import json
from pathlib import Path

from zone._proto import receipts_pb2
from zone.wire.checkpoint import Checkpoint
from zone.wire.entries import StoredEntry
from zone.wire.jsontext import MalformedEvidence, load_strict
from zone.wire.receipts import InclusionProof, ReceiptBundle, verify_bundle

__all__ = [
    "MalformedEvidence",
    "ReceiptBundle",
    "bundle_from_proto",
    "verify_bundle",
    "write_bundle",
]


def bundle_from_proto(reply: receipts_pb2.Receipt) -> ReceiptBundle:
    """Typed view of a Receipt reply.

    Raises:
        MalformedEvidence: the reply's receipt or checkpoint is not well-formed JSON (or
            repeats a key, or has a field its format does not define).
    """
    e = reply.entry
    entry = StoredEntry(e.seq, e.ts, e.kind, e.record_json, e.prev_hash, e.hash)
    proof, checkpoint = None, None
    if reply.proven:
        p = reply.proof
        proof = InclusionProof(p.leaf_index, p.tree_size, tuple(p.path))
        checkpoint = Checkpoint.from_json(reply.checkpoint_json)
    receipt = load_strict(reply.receipt_json, "the receipt")
    if not isinstance(receipt, dict):
        raise MalformedEvidence("the receipt is not a JSON object")
    return ReceiptBundle(reply.release_id, receipt, entry, proof, checkpoint)


def write_bundle(bundle: ReceiptBundle, path: Path) -> None:
    """Save a receipt bundle as the JSON file ``zone receipt verify`` reads."""
    path.write_text(json.dumps(bundle.to_dict(), indent=2, sort_keys=True) + "\n")
