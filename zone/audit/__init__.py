"""The audit chain, signed checkpoints, receipts, the release registry and tracing.

``chain``/``verify``: the append-only SHA-256 hash chain of every decision and release;
``checkpoint``/``keys``/``merkle``: Ed25519-signed checkpoints with RFC 6962 Merkle roots;
``registry``/``receipts``: every release with its receipt and artifact, and offline-checkable
receipt bundles; ``leaked``/``trace``: naming the release a leaked artifact came from.
The formats and offline checks shared with the SDK live in ``zone.wire``; this package is the
zone's side: writing the chain, signing checkpoints, building proofs from the database.
"""

from __future__ import annotations

from zone.audit.chain import AuditChain, AuditEntry, utc_timestamp
from zone.audit.releases import (
    RECEIPT_FIELDS,
    ReleasedArtifact,
    ReleaseRecord,
    ReleaseRegistry,
    insert_release,
)
from zone.audit.verify import VerifyResult, verify_chain, verify_file
from zone.state.readonly import open_state_readonly
from zone.wire.entries import GENESIS_HASH, entry_hash
from zone.wire.jsontext import canonical_json

__all__ = [
    "GENESIS_HASH",
    "RECEIPT_FIELDS",
    "AuditChain",
    "AuditEntry",
    "ReleaseRecord",
    "ReleaseRegistry",
    "ReleasedArtifact",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
    "insert_release",
    "open_state_readonly",
    "utc_timestamp",
    "verify_chain",
    "verify_file",
]
