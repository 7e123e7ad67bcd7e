"""ReceiptService: a caller's receipts with their chain entry and inclusion proof."""

from __future__ import annotations

import grpc

from zone._proto import receipts_pb2, receipts_pb2_grpc
from zone.server.call import current_call
from zone.wire.jsontext import canonical_json
from zone.wire.receipts import ReceiptBundle


class ReceiptServicer(receipts_pb2_grpc.ReceiptServiceServicer):
    """GetReceipt; visibility and proofs live in ``zone.audit.receipts.ReceiptBook``."""

    def GetReceipt(
        self, request: receipts_pb2.GetReceiptRequest, context: grpc.ServicerContext
    ) -> receipts_pb2.Receipt:
        """The caller's receipt of one release (any receipt for admins)."""
        call = current_call()
        principal = call.require_principal()
        bundle = call.services.receipts.bundle(
            principal.id, principal.role == "admin", request.release_id
        )
        return receipt_to_proto(bundle)


def receipt_to_proto(bundle: ReceiptBundle) -> receipts_pb2.Receipt:
    """The reply message of a receipt bundle."""
    e = bundle.entry
    reply = receipts_pb2.Receipt(
        release_id=bundle.release_id,
        receipt_json=canonical_json(dict(bundle.receipt)),
        entry=receipts_pb2.ChainEntry(
            seq=e.seq,
            ts=e.ts,
            kind=e.kind,
            record_json=e.record_json,
            prev_hash=e.prev_hash,
            hash=e.hash,
        ),
        proven=bundle.proof is not None and bundle.checkpoint is not None,
    )
    if bundle.proof is not None and bundle.checkpoint is not None:
        reply.proof.CopyFrom(
            receipts_pb2.InclusionProof(
                leaf_index=bundle.proof.leaf_index,
                tree_size=bundle.proof.tree_size,
                path=list(bundle.proof.path),
            )
        )
        reply.checkpoint_json = bundle.checkpoint.to_json()
    return reply
