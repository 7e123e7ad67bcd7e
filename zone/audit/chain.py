"""The audit chain: an append-only SHA-256 hash chain of every decision and release.

Each entry ``n`` stores ``seq`` (1, 2, 3, ... without gaps), a UTC timestamp, a ``kind``, a JSON
``record`` in canonical form, the previous entry's hash (``GENESIS_HASH`` for the first) and its
own hash, ``entry_hash(prev_hash, seq, ts, kind, record_json)`` (``zone.wire.entries``; the
bytes are specified in docs/EVIDENCE.md). Changing, deleting or reordering
any stored entry breaks a hash or a link that ``zone.audit.verify`` recomputes.

What the chain alone does not catch: someone with write access to the database can rewrite the
whole chain (or drop its newest entries) and recompute every hash consistently. Signed
checkpoints of the head hash and Merkle root, kept outside the database, close that gap for the
entries they cover (``zone.audit.checkpoint``).

Kinds written by the server (documented, not enforced here):

* ``"rpc"``: one record per RPC: request_id, principal, role, method, product,
  decision (``allow`` or ``deny``), reason code, status code, policy_digest, peer
  (:meth:`AuditChain.append_journaled`: through the server's journal on SQLite).
* ``"policy.reload"``: outcome (``ok`` or ``rejected``), digest, previous digest.
* ``"server.start"`` / ``"server.stop"``.
* ``"dataset.import"``.
* ``"release"``: a receipt (``zone.audit.releases.RECEIPT_FIELDS`` and more), with its release
  registry row in the same transaction.
* ``"audit.checkpoint"``: length, head hash, Merkle root and key id of a signed checkpoint.
* ``"verification.key"``: a Score key registered or revoked.
* ``"consent.register"`` / ``"consent.revoke"``: an operator's consent record as it stands,
  in the transaction that changed it.
* ``"verification.consent"``: the precise consent refusals of a Match or Score call (the
  caller's receipt counts the reasons it was told), in the call's admission transaction.

Records with ``principal`` or ``request_id`` keys are indexed on them (generated columns derived
from the record, hence covered by the hash).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zone.audit.group import Encoded, GroupCommitter
from zone.audit.journal import Drainer, Journal
from zone.audit.tail import COLUMNS, AuditEntry, ChainTail, _append, _append_many, _head
from zone.audit.tail import _link as _link
from zone.audit.tail import utc_timestamp as utc_timestamp
from zone.errors import InvalidArgument
from zone.state.api import State, Tx
from zone.wire.entries import GENESIS_HASH as GENESIS_HASH
from zone.wire.jsontext import canonical_json

log = logging.getLogger(__name__)

MAX_ENTRIES_PER_PAGE = 10_000

DRAIN_LINGER_SECONDS = 0.05
"""How long the journal's drainer lets records gather before it appends them in one batch."""

__all__ = ["AuditChain", "AuditEntry", "ChainTail", "first_seq_at", "utc_timestamp"]


class AuditChain:
    """Appends to and reads the audit chain kept in a ``StateStore``."""

    def __init__(self, store: State) -> None:
        self._store = store
        self._tail = tail = ChainTail()
        self._journal: Journal | None = None
        self._drainer: Drainer | None = None
        self._group: GroupCommitter[AuditEntry] = GroupCommitter(
            store, self._append_batch, committed=tail.committed
        )

    def open_journal(self, folder: Path | None, *, linger: float = DRAIN_LINGER_SECONDS) -> None:
        """Journal the records of :meth:`append_journaled` in ``folder``, drained by a thread.

        ``folder`` None: no journal (``append_journaled`` commits each record itself).

        Replays first what a crash of the last process left in the journal
        (``zone.audit.journal``). Call :meth:`close` to drain and release it.

        Raises:
            FailedPrecondition: another process holds the journal.
            Unavailable: the journal's first segment cannot be allocated.
        """
        if folder is None:
            return
        self._journal = Journal.open(self._store, folder, _append_many)
        self._drainer = Drainer(self._journal.wake, self.flush, linger)

    def append_journaled(self, kind: str, record: Mapping[str, Any]) -> None:
        """Append an entry of a call that released nothing (an ``rpc`` record).

        With a journal (:meth:`open_journal`) the record is in the journal file when this
        returns: it survives a kill -9 of the process (as a ``durable=False`` commit does)
        and reaches the chain with the drainer's next batch, or with this process's next
        chain append inside a write transaction, whichever comes first. Without one, it is
        ``append(kind, record, durable=False)``.

        Raises:
            InvalidArgument: as :meth:`append`.
            Unavailable: the journal cannot take the record (full, or no disk space).
            Exception: without a journal, as :meth:`append`.
        """
        record_json, stored = _encode_record(kind, record)
        journal = self._journal
        if journal is None or not journal.write(kind, record_json, stored):
            self._group.append((kind, record_json, stored), durable=False)

    def flush(self) -> None:
        """Append every journaled record written so far to the chain; return once committed.

        Readers that must see every record (audit queries, verification, checkpoints,
        alerts) call this first. Nothing to do without a journal.

        Raises:
            RuntimeError: called by a thread inside ``store.write()``.
            Exception: whatever the store raised (the records stay pending, none is lost).
        """
        journal = self._journal
        if journal is None or not journal.has_pending():
            return
        appended: list[AuditEntry] = []

        def append(tx: Tx, encoded: Sequence[Encoded]) -> list[AuditEntry]:
            appended.extend(self._tail.append_many(tx, encoded))
            return appended

        with self._store.write(durable=False) as tx:
            drained = journal.drain_into(tx, append)
        self._tail.committed(appended)
        if drained is not None:
            journal.committed(drained[0])

    def close(self) -> None:
        """Stop the drainer, drain the journal and release it (idempotent; no journal: nothing).

        A drain that fails leaves its records in the journal for the next start to replay.
        """
        if self._drainer is not None:
            self._drainer.stop()
            self._drainer = None
        if self._journal is not None:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - replayed at the next start
                log.exception("draining the audit journal at close failed")
            self._journal.close()
            self._journal = None

    def append(
        self,
        kind: str,
        record: Mapping[str, Any],
        *,
        conn: Tx | None = None,
        durable: bool = True,
    ) -> AuditEntry:
        """Append one entry and return it.

        Without ``conn`` the entry is committed by a ``store.write(durable=durable)``
        transaction before this returns (see ``StateStore.write`` for what ``durable=False``
        gives up); concurrent callers share one transaction (``zone.audit.group``). With
        ``conn`` (the connection yielded by the caller's ``store.write()``) it joins the
        caller's transaction: it becomes durable when, and only if, the caller's transaction
        commits. Either way the head is read inside the write
        transaction, so concurrent appends form one linear chain.

        Args:
            kind: The entry kind, e.g. ``"rpc"`` (see the module docstring).
            record: A JSON object (string keys; no NaN or infinities).
            conn: The caller's open write connection, if any.
            durable: Without ``conn``: fsync before returning (default) or not.

        Returns:
            The stored entry; its ``record`` is the canonical record as read back.

        Raises:
            InvalidArgument: ``kind`` is empty or ``record`` is not representable as JSON.
            RuntimeError: ``conn`` is given but has no open transaction, or ``conn`` is not
                given by a thread inside ``store.write()``.
        """
        record_json, stored = _encode_record(kind, record)
        if conn is not None:
            if not conn.in_transaction:
                raise RuntimeError("append(conn=...) needs the connection of an open store.write()")
            if self._journal is not None:  # earlier journaled records first (the prefix)
                self._journal.drain_into(conn, _append_many)
            return _append(conn, kind, record_json, stored)
        return self._group.append((kind, record_json, stored), durable=durable)

    def head(self) -> tuple[int, str]:
        """Return ``(length, head hash)``; ``(0, GENESIS_HASH)`` for an empty chain.

        Journaled records are flushed first (:meth:`flush`).
        """
        self.flush()
        with self._store.read() as conn:
            return _head(conn)

    def entries(self, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Return up to ``limit`` entries with ``seq > since_seq``, in order (after :meth:`flush`).

        Args:
            since_seq: Return entries after this sequence number (0: from the start).
            limit: At most this many entries (1 to ``MAX_ENTRIES_PER_PAGE``).

        Returns:
            The entries, oldest first.

        Raises:
            InvalidArgument: ``since_seq`` is negative or ``limit`` is out of range.
        """
        if since_seq < 0:
            raise InvalidArgument("since_seq must not be negative")
        if not 1 <= limit <= MAX_ENTRIES_PER_PAGE:
            raise InvalidArgument(f"limit must be between 1 and {MAX_ENTRIES_PER_PAGE}")
        self.flush()
        with self._store.read() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                (since_seq, limit),
            ).fetchall()
        return [_entry_from_row(row) for row in rows]

    def _append_batch(self, tx: Tx, encoded: Sequence[Encoded]) -> list[AuditEntry]:
        """A group commit's batch, after the journaled records not yet in the chain."""
        journal = self._journal
        if journal is not None:
            drained = journal.drain_into(tx, _append_many)
            if drained is not None and drained[1]:  # the remembered head is no longer it
                return _append_many(tx, encoded)
        return self._tail.append_many(tx, encoded)


def first_seq_at(conn: Tx, moment: str) -> int:
    """The first ``seq`` appended at or after the ISO time ``moment`` (one past the end if none).

    A binary search on the key: appends stamp their time inside the writer lock, so ``ts``
    grows with ``seq`` (a clock stepped back makes the answer approximate by that step).
    """
    row = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
    low, high = 1, int(row[0] or 0) + 1
    while low < high:
        mid = (low + high) // 2
        found = conn.execute("SELECT ts FROM audit_log WHERE seq = ?", (mid,)).fetchone()
        if found is not None and str(found[0]) < moment:
            low = mid + 1
        else:
            high = mid
    return low


def _encode_record(kind: str, record: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return the record's canonical JSON and its parsed form, checked to round-trip.

    The round trip guarantees that verification, which re-serializes the stored text, accepts
    what is stored (it rejects e.g. non-string keys that would collide or sort differently).
    A flat record of text values (every ``rpc`` record) skips the parse: it round-trips by
    construction (:func:`_encode_flat_text`).
    """
    if not isinstance(kind, str) or not kind:
        raise InvalidArgument("audit kind must be a non-empty string")
    if not isinstance(record, Mapping):
        raise InvalidArgument("audit record must be a JSON object")
    obj = dict(record)
    if all(type(key) is str and type(value) is str for key, value in obj.items()):
        return _encode_flat_text(kind, obj)
    return _encode_checked(kind, obj)


def _encode_flat_text(kind: str, obj: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Encode a record whose keys and values are all exactly ``str``, without the parse.

    Such a record round-trips by construction: ``json.dumps`` writes each key and value as a
    JSON string literal, ``json.loads`` inverts that escaping exactly for any text that is
    valid UTF-8 (lone surrogates are not, and fail the ``encode`` below as they would in
    :func:`_encode_checked`), and a dict's keys are already unique strings, so the parsed
    object equals ``obj`` and re-serializes to the same text.
    (``tests/unit/audit/test_properties.py`` checks both paths agree on arbitrary text.)
    """
    try:
        text = canonical_json(obj)
        kind.encode("utf-8")
        text.encode("utf-8")
    except ValueError as exc:  # UnicodeError is a ValueError
        raise InvalidArgument("audit record is not representable as JSON") from exc
    return text, obj


def _encode_checked(kind: str, obj: dict[Any, Any]) -> tuple[str, dict[str, Any]]:
    """Encode any record, then parse and re-serialize it to prove it round-trips."""
    try:
        text = canonical_json(obj)
        kind.encode("utf-8")
        text.encode("utf-8")
        parsed: dict[str, Any] = json.loads(text)
        round_trips = canonical_json(parsed) == text
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
        raise InvalidArgument("audit record is not representable as JSON") from exc
    if not round_trips:
        raise InvalidArgument("audit record keys must be unique strings")
    return text, parsed


def _entry_from_row(row: tuple[Any, ...]) -> AuditEntry:
    seq, ts, kind, record, prev_hash, digest = row
    return AuditEntry(int(seq), str(ts), str(kind), json.loads(record), str(prev_hash), str(digest))
