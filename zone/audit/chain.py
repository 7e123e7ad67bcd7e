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

* ``"rpc"``: one record per RPC: time, request_id, principal, role, method, product,
  decision (``allow`` or ``deny``), reason code, status code, policy_digest, peer.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from zone.audit.group import Encoded, GroupCommitter
from zone.errors import InvalidArgument
from zone.state.api import State, Tx, execute_later
from zone.wire.entries import GENESIS_HASH, entry_hash
from zone.wire.jsontext import canonical_json

MAX_ENTRIES_PER_PAGE = 10_000

_COLUMNS = "seq, ts, kind, record, prev_hash, hash"
_INSERT = f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit chain, as stored."""

    seq: int
    ts: str
    kind: str
    record: Mapping[str, Any] = field(hash=False)
    prev_hash: str
    hash: str


class AuditChain:
    """Appends to and reads the audit chain kept in a ``StateStore``."""

    def __init__(self, store: State) -> None:
        self._store = store
        tail = ChainTail()
        write_alone = getattr(store, "write_alone", None)  # zone.state.api.WritesAlone
        self._group: GroupCommitter[AuditEntry] = GroupCommitter(
            store,
            tail.append_many,
            committed=tail.committed,
            append_alone=None if write_alone is None else partial(tail.append_alone, write_alone),
        )

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
            return _append(conn, kind, record_json, stored)
        return self._group.append((kind, record_json, stored), durable=durable)

    def head(self) -> tuple[int, str]:
        """Return ``(length, head hash)``; ``(0, GENESIS_HASH)`` for an empty chain."""
        with self._store.read() as conn:
            return _head(conn)

    def entries(self, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Return up to ``limit`` entries with ``seq > since_seq``, in order.

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
        with self._store.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                (since_seq, limit),
            ).fetchall()
        return [_entry_from_row(row) for row in rows]


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


def utc_timestamp() -> str:
    """Return the current UTC time as ISO-8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


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


def _head(conn: Tx) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1])


def _head_in(conn: Tx) -> tuple[int, str]:
    """The head as ``conn`` sees it: read under the chain lock as it began, or read now.

    A ``zone.state.api.ChainHeadTx`` (PostgreSQL) read it as it began; no other writer
    can append before it commits.
    """
    held = getattr(conn, "chain_head", None)  # not isinstance: a Protocol check is slow
    if held is not None:
        head: tuple[int, str] | None = held()
        return head or (0, GENESIS_HASH)
    return _head(conn)


def _advance(conn: Tx, entry: AuditEntry) -> None:
    advance = getattr(conn, "advance_chain_head", None)
    if advance is not None:
        advance(entry.seq, entry.hash)


def _next_entry(
    conn: Tx, kind: str, record_json: str, record: dict[str, Any]
) -> tuple[AuditEntry, tuple[int, str, str, str, str, str]]:
    """The entry to append next in ``conn``, and its row."""
    last_seq, prev_hash = _head_in(conn)
    seq = last_seq + 1
    ts = utc_timestamp()
    digest = entry_hash(prev_hash, seq, ts, kind, record_json)
    entry = AuditEntry(seq, ts, kind, record, prev_hash, digest)
    return entry, (seq, ts, kind, record_json, prev_hash, digest)


def _append(conn: Tx, kind: str, record_json: str, record: dict[str, Any]) -> AuditEntry:
    """Append one entry; on PostgreSQL its INSERT rides on the transaction's next round trip."""
    entry, row = _next_entry(conn, kind, record_json, record)
    execute_later(conn, _INSERT, row)
    _advance(conn, entry)
    return entry


# The first row of a batch appended after a remembered head: inserted only if that head is
# still the chain's last entry (one statement instead of a head read and an insert).
_INSERT_AFTER_HEAD = (
    "INSERT INTO audit_log (seq, ts, kind, record, prev_hash, hash) "
    "SELECT ?, ?, ?, ?, ?, ? WHERE (SELECT max(seq) FROM audit_log) = ?"
)

_Row = tuple[int, str, str, str, str, str]


class ChainTail:
    """The head this process last committed, so that a group commit can skip the head read.

    Used by one :class:`~zone.audit.group.GroupCommitter` (under its commit lock). The head
    is remembered only after the transaction holding it committed, and trusted only through
    ``_INSERT_AFTER_HEAD``: if anything else appended since (another process, another
    ``AuditChain``, an append that joined a caller's transaction), the conditional insert
    inserts nothing and the batch is appended after the head read from the table instead.
    Rows are never updated or deleted (triggers), so a remembered ``seq`` that is still the
    maximum still carries the remembered hash. Not used where the transaction read the head
    as it began (PostgreSQL, ``zone.state.api.ChainHeadTx``): that head is current for free.
    """

    def __init__(self) -> None:
        self.known: tuple[int, str] | None = None

    def append_many(self, conn: Tx, encoded: Sequence[Encoded]) -> list[AuditEntry]:
        """Append ``encoded`` in order (see :func:`_append_many`)."""
        return _append_many(conn, encoded, self.known)

    def append_alone(
        self, write_alone: Callable[..., int], encoded: Encoded, durable: bool
    ) -> AuditEntry | None:
        """Append one entry after the remembered head as a transaction of one statement.

        ``write_alone`` is the store's ``zone.state.api.WritesAlone.write_alone``. Returns
        None, having written nothing, when no head is remembered or it is no longer the head
        (the conditional insert inserted nothing): the caller then appends in a ``write()``.
        """
        known = self.known
        if known is None:
            return None
        entries, rows = _link(known, [encoded])
        if write_alone(_INSERT_AFTER_HEAD, (*rows[0], known[0]), durable=durable) != 1:
            return None
        return entries[0]

    def committed(self, entries: Sequence[AuditEntry]) -> None:
        """The transaction that appended ``entries`` committed: its last one is the head."""
        if entries:
            self.known = (entries[-1].seq, entries[-1].hash)


def _append_many(
    conn: Tx, encoded: Sequence[Encoded], known: tuple[int, str] | None = None
) -> list[AuditEntry]:
    """Append ``encoded`` after the head: the transaction's, or ``known`` if still it, or read."""
    if not encoded:
        return []
    later = getattr(conn, "execute_later", None)
    if later is not None:  # PostgreSQL: the head came with BEGIN; the rows ride on the COMMIT
        entries, rows = _link(_head_in(conn), encoded)
        for row in rows:
            later(_INSERT, row)
        _advance(conn, entries[-1])
        return entries
    if known is not None:
        entries, rows = _link(known, encoded)
        if conn.execute(_INSERT_AFTER_HEAD, (*rows[0], known[0])).rowcount == 1:
            if len(rows) > 1:
                conn.executemany(_INSERT, rows[1:])
            return entries
    entries, rows = _link(_head(conn), encoded)
    conn.executemany(_INSERT, rows)
    return entries


def _link(head: tuple[int, str], encoded: Sequence[Encoded]) -> tuple[list[AuditEntry], list[_Row]]:
    """Number, stamp and hash ``encoded`` as the entries after ``head``."""
    seq, prev_hash = head
    entries: list[AuditEntry] = []
    rows: list[_Row] = []
    for kind, record_json, record in encoded:
        seq += 1
        ts = utc_timestamp()
        digest = entry_hash(prev_hash, seq, ts, kind, record_json)
        entries.append(AuditEntry(seq, ts, kind, record, prev_hash, digest))
        rows.append((seq, ts, kind, record_json, prev_hash, digest))
        prev_hash = digest
    return entries, rows


def _entry_from_row(row: tuple[Any, ...]) -> AuditEntry:
    seq, ts, kind, record, prev_hash, digest = row
    return AuditEntry(int(seq), str(ts), str(kind), json.loads(record), str(prev_hash), str(digest))
