"""The audit chain: an append-only SHA-256 hash chain of every decision and release."""

from __future__ import annotations

from zone.audit.chain import (
    GENESIS_HASH,
    AuditChain,
    AuditEntry,
    canonical_json,
    entry_hash,
    utc_timestamp,
)
from zone.audit.verify import VerifyResult, verify_chain, verify_file

__all__ = [
    "GENESIS_HASH",
    "AuditChain",
    "AuditEntry",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
    "utc_timestamp",
    "verify_chain",
    "verify_file",
]
