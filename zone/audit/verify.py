"""Verification of the audit chain: recompute every link and hash, report the first break.

``verify_chain`` streams ``audit_log`` in ``seq`` order and checks, for each entry, that

* ``seq`` continues without a gap from 1 (a deleted entry shows as a gap at its own seq),
* ``prev_hash`` equals the previous entry's hash (``GENESIS_HASH`` for seq 1),
* ``record`` is canonical JSON (re-serializing the parsed object gives the stored text),
* ``hash`` equals ``entry_hash`` recomputed from the stored fields.

This detects edits, deletions and reorderings of stored entries. It cannot detect a chain that
was rewritten and rehashed from some point on by someone with write access, nor the removal of
the newest entries: signed checkpoints of the head, kept elsewhere, close that gap
(``zone.audit.checkpoint.verify_against_checkpoint``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zone.state.api import State, Tx
from zone.state.readonly import open_state_readonly
from zone.wire.entries import GENESIS_HASH, entry_hash
from zone.wire.jsontext import canonical_json

REASON_OK = "ok"
REASON_GAP = "sequence gap"
REASON_TYPE = "field has the wrong type"
REASON_LINK = "prev_hash does not link"
REASON_NOT_CANONICAL = "record is not canonical JSON"
REASON_HASH = "hash mismatch"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verification.

    Attributes:
        ok: Whether the whole chain verified.
        length: Number of entries verified intact (all of them when ``ok``).
        head_hash: Hash of the last intact entry (``GENESIS_HASH`` if none).
        first_bad_seq: The first sequence number that is missing or fails a check; 0 when ok.
        reason: ``"ok"``, or why ``first_bad_seq`` failed (one of the ``REASON_*`` strings).
    """

    ok: bool
    length: int
    head_hash: str
    first_bad_seq: int
    reason: str


def verify_chain(conn: Tx) -> VerifyResult:
    """Verify the audit chain readable through ``conn``.

    Args:
        conn: Any connection to a state database (read-only is enough).

    Returns:
        The result; on failure it names the first broken entry and why.
    """
    length, head = 0, GENESIS_HASH
    cursor = conn.execute(
        "SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log ORDER BY seq"
    )
    try:
        for row in cursor:
            problem = _check_entry(row, length + 1, head)
            if problem:
                return VerifyResult(False, length, head, length + 1, problem)
            length, head = row[0], row[5]
    finally:
        cursor.close()
    return VerifyResult(True, length, head, 0, REASON_OK)


def verify_file(path: Path) -> VerifyResult:
    """Verify the audit chain of the state database file at ``path``, read-only.

    The file is opened with a ``mode=ro`` URI and no migration runs, so verifying never changes
    the database. It may run while a zone is serving from the same file.

    Args:
        path: The state database file.

    Returns:
        The result of ``verify_chain``; an empty chain is ok with length 0.

    Raises:
        FailedPrecondition: The file does not exist, is not an SQLite database, or has no
            audit chain table.
    """
    with open_state_readonly(path) as conn:
        return verify_chain(conn)


def _check_entry(row: tuple[Any, ...], expected_seq: int, prev_hash: str) -> str:
    """Return why ``row`` breaks the chain at ``expected_seq``, or "" when it is intact."""
    seq, ts, kind, record, stored_prev, stored_hash = row
    if seq != expected_seq:
        return REASON_GAP
    if not all(isinstance(value, str) for value in row[1:]):
        return REASON_TYPE
    if stored_prev != prev_hash:
        return REASON_LINK
    if not _is_canonical(record):
        return REASON_NOT_CANONICAL
    if entry_hash(stored_prev, seq, ts, kind, record) != stored_hash:
        return REASON_HASH
    return ""


def _is_canonical(text: str) -> bool:
    try:
        parsed = json.loads(text)
        return isinstance(parsed, dict) and canonical_json(parsed) == text
    except (ValueError, RecursionError):
        return False


class ChainVerifier:
    """Recomputes the whole audit chain of a state store on request (the admin's check)."""

    def __init__(self, store: State, flush: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._flush = flush  # ``AuditChain.flush``: journaled records first

    def verify(self) -> VerifyResult:
        """Recompute every entry's hash and link from the genesis hash (after ``flush``)."""
        self._flush()
        with self._store.read() as conn:
            return verify_chain(conn)
