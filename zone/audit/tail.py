"""The chain's end as appends see it: linking entries after a head, and the head remembered.

``AuditEntry`` and the functions that number, stamp, hash and insert entries after the chain's
head, for every way an entry is appended (``zone.audit.chain``: joined to a caller's
transaction, group-committed, or drained from the ``rpc`` journal, ``zone.audit.journal``);
``ChainTail`` remembers the head this process last committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zone.audit.group import Encoded
from zone.state.api import Tx, execute_later
from zone.wire.entries import GENESIS_HASH, entry_hash

COLUMNS = "seq, ts, kind, record, prev_hash, hash"
_INSERT = f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit chain, as stored."""

    seq: int
    ts: str
    kind: str
    record: Mapping[str, Any] = field(hash=False)
    prev_hash: str
    hash: str


def utc_timestamp() -> str:
    """Return the current UTC time as ISO-8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


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
        if len(rows) == 1:
            if conn.execute(_INSERT_AFTER_HEAD, (*rows[0], known[0])).rowcount == 1:
                return entries
        elif _insert_rows(conn, rows, after=known[0]):
            return entries
    entries, rows = _link(_head(conn), encoded)
    if len(rows) == 1:
        conn.execute(_INSERT, rows[0])
    else:
        _insert_rows(conn, rows)
    return entries


_ROWS_PER_STATEMENT = 500  # 3,000 parameters: well under SQLite's 32,766


def _insert_rows(conn: Tx, rows: Sequence[_Row], after: int | None = None) -> bool:
    """Insert ``rows`` with multi-row statements; False (nothing inserted) if ``after`` moved.

    One statement per 500 rows instead of one per row: ``executemany`` steps SQLite once per
    row, and each step releases the GIL, which on a busy server hands the core to another
    thread and waits to get it back. With ``after``, the first statement inserts only if
    ``after`` is still the chain's last ``seq`` (all of its rows, or none).
    """
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        flat = [value for row in chunk for value in row]
        if start == 0 and after is not None:
            sql = (
                f"INSERT INTO audit_log ({COLUMNS}) SELECT * FROM (VALUES {values}) "
                "WHERE (SELECT max(seq) FROM audit_log) = ?"
            )
            if conn.execute(sql, (*flat, after)).rowcount != len(chunk):
                return False
        else:
            conn.execute(f"INSERT INTO audit_log ({COLUMNS}) VALUES {values}", flat)
    return True


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
