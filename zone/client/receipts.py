"""Receipts on the SDK side: the reply of ``GetReceipt`` as a bundle that verifies offline.

``client.get_receipt(release_id)`` returns a :class:`~zone.audit.receipts.ReceiptBundle`;
``write_bundle`` saves it as the JSON file ``zone receipt verify`` checks, and
``zone.audit.receipts.verify_bundle`` checks it in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

from zone._proto import receipts_pb2
from zone.audit.checkpoint import Checkpoint
from zone.audit.receipts import InclusionProof, ReceiptBundle, StoredEntry, verify_bundle

__all__ = ["ReceiptBundle", "bundle_from_proto", "verify_bundle", "write_bundle"]


def bundle_from_proto(reply: receipts_pb2.Receipt) -> ReceiptBundle:
    """Typed view of a Receipt reply.

    Raises:
        zone.errors.InvalidArgument: the reply's receipt or checkpoint is not well-formed JSON.
    """
    e = reply.entry
    entry = StoredEntry(e.seq, e.ts, e.kind, e.record_json, e.prev_hash, e.hash)
    proof, checkpoint = None, None
    if reply.proven:
        p = reply.proof
        proof = InclusionProof(p.leaf_index, p.tree_size, tuple(p.path))
        checkpoint = Checkpoint.from_json(reply.checkpoint_json)
    receipt = json.loads(reply.receipt_json)
    return ReceiptBundle(reply.release_id, receipt, entry, proof, checkpoint)


def write_bundle(bundle: ReceiptBundle, path: Path) -> None:
    """Save a receipt bundle as the JSON file ``zone receipt verify`` reads."""
    path.write_text(json.dumps(bundle.to_dict(), indent=2, sort_keys=True) + "\n")
