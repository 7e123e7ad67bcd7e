"""Receipt bundles on the zone's side: a caller's receipt with its entry and Merkle proof.

:class:`ReceiptBook` finds a release's ``release`` audit entry and, when the latest checkpoint
covers it, the inclusion path under that checkpoint's root. The bundle format and its offline
verification are shared with the SDK in ``zone.wire.receipts``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from zone.audit.checkpoint import latest_checkpoint, leaf_hashes
from zone.audit.merkle import inclusion_path, root_of, tree_levels
from zone.audit.releases import ReleaseRegistry
from zone.errors import FailedPrecondition, NotFound
from zone.state.api import State, Tx
from zone.wire.checkpoint import Checkpoint
from zone.wire.entries import StoredEntry
from zone.wire.receipts import InclusionProof, ReceiptBundle

OtherReceipts = Callable[[str], "tuple[str, int] | None"]
"""Receipts outside the release registry (erasure receipts): id -> (principal, audit seq)."""


class ReceiptBook:
    """Builds receipt bundles for callers (server side); caches the latest checkpoint's tree.

    ``others`` finds receipts that are ``release`` entries on the chain without a registry row
    (cohort erasure receipts: nothing left the zone); they are served the same way.
    """

    def __init__(
        self, store: State, registry: ReleaseRegistry, others: OtherReceipts | None = None
    ) -> None:
        self._store = store
        self._registry = registry
        self._others = others
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
        owner, seq, receipt = self._find(release_id)
        if not is_admin and owner != principal:
            raise NotFound("no such receipt", reason="not_owner")
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log WHERE seq = ?",
                (seq,),
            ).fetchone()
            if row is None:
                raise FailedPrecondition("the receipt's audit entry is missing")
            entry = StoredEntry(*row)
            if receipt is None:
                receipt = json.loads(entry.record_json)
            checkpoint = latest_checkpoint(conn)
            if checkpoint is None or entry.seq > checkpoint.length:
                return ReceiptBundle(release_id, receipt, entry, None, None)
            levels = self._levels(conn, checkpoint)
        path = tuple(h.hex() for h in inclusion_path(levels, entry.seq - 1))
        proof = InclusionProof(entry.seq - 1, checkpoint.length, path)
        return ReceiptBundle(release_id, receipt, entry, proof, checkpoint)

    def _find(self, release_id: str) -> tuple[str, int, Mapping[str, Any] | None]:
        try:
            record = self._registry.get(release_id)
        except NotFound:
            found = self._others(release_id) if self._others is not None else None
            if found is None:
                raise NotFound("no such receipt", reason="unknown_release") from None
            return found[0], found[1], None
        return record.principal, record.audit_seq, record.receipt

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
