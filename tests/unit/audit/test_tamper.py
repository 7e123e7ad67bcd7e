from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from zone.audit import AuditChain, AuditEntry, canonical_json, entry_hash, verify_file

N = 8

Tamper = Callable[..., None]


@pytest.fixture
def entries(chain: AuditChain) -> list[AuditEntry]:
    return [
        chain.append("rpc", {"request_id": f"r{i}", "principal": "p", "i": i}) for i in range(N)
    ]


def _row(entry: AuditEntry) -> tuple[object, ...]:
    return (entry.ts, entry.kind, canonical_json(entry.record), entry.prev_hash, entry.hash)


def _check(db_path: Path, first_bad_seq: int, reason: str) -> None:
    result = verify_file(db_path)
    assert not result.ok
    assert (result.first_bad_seq, result.reason) == (first_bad_seq, reason)
    assert result.length == first_bad_seq - 1


def test_untouched_chain_verifies(entries: list[AuditEntry], db_path: Path) -> None:
    result = verify_file(db_path)
    assert result.ok and result.length == N and result.head_hash == entries[-1].hash


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.replace('"i":3', '"i":4'), "hash mismatch"),
        (lambda r: r.replace('"principal":"p"', '"principal":"q"'), "hash mismatch"),
        (lambda r: r.replace(",", ", ", 1), "record is not canonical JSON"),
        (lambda r: r[:-1], "record is not canonical JSON"),
        (lambda r: "[" + r + "]", "record is not canonical JSON"),
    ],
)
def test_edited_record_text(
    entries: list[AuditEntry],
    db_path: Path,
    tamper: Tamper,
    change: Callable[[str], str],
    reason: str,
) -> None:
    record = canonical_json(entries[3].record)
    tamper(db_path, "UPDATE audit_log SET record = ? WHERE seq = 4", (change(record),))
    _check(db_path, 4, reason)


def test_edited_record_rehashed_breaks_next_link(
    entries: list[AuditEntry], db_path: Path, tamper: Tamper
) -> None:
    e = entries[3]
    record = canonical_json({**e.record, "i": 99})
    digest = entry_hash(e.prev_hash, e.seq, e.ts, e.kind, record)
    tamper(db_path, "UPDATE audit_log SET record = ?, hash = ? WHERE seq = 4", (record, digest))
    _check(db_path, 5, "prev_hash does not link")


def test_edited_hash(entries: list[AuditEntry], db_path: Path, tamper: Tamper) -> None:
    tamper(db_path, "UPDATE audit_log SET hash = ? WHERE seq = 6", ("f" * 64,))
    _check(db_path, 6, "hash mismatch")


def test_edited_last_hash(entries: list[AuditEntry], db_path: Path, tamper: Tamper) -> None:
    tamper(db_path, "UPDATE audit_log SET hash = ? WHERE seq = ?", ("0" * 64, N))
    _check(db_path, N, "hash mismatch")


def test_edited_prev_hash(entries: list[AuditEntry], db_path: Path, tamper: Tamper) -> None:
    tamper(db_path, "UPDATE audit_log SET prev_hash = ? WHERE seq = 1", ("1" * 64,))
    _check(db_path, 1, "prev_hash does not link")


@pytest.mark.parametrize(
    ("column", "value"),
    [("ts", "2020-01-01T00:00:00.000000+00:00"), ("kind", "policy.reload")],
)
def test_edited_ts_or_kind(
    entries: list[AuditEntry], db_path: Path, tamper: Tamper, column: str, value: str
) -> None:
    tamper(db_path, f"UPDATE audit_log SET {column} = ? WHERE seq = 2", (value,))
    _check(db_path, 2, "hash mismatch")


@pytest.mark.parametrize("seq", [1, 4, N - 1])
def test_deleted_row(entries: list[AuditEntry], db_path: Path, tamper: Tamper, seq: int) -> None:
    tamper(db_path, "DELETE FROM audit_log WHERE seq = ?", (seq,))
    _check(db_path, seq, "sequence gap")


def test_renumbered_rows_after_delete(
    entries: list[AuditEntry], db_path: Path, tamper: Tamper
) -> None:
    tamper(db_path, "DELETE FROM audit_log WHERE seq = 3")
    for seq in range(4, N + 1):
        tamper(db_path, "UPDATE audit_log SET seq = ? WHERE seq = ?", (seq - 1, seq))
    _check(db_path, 3, "prev_hash does not link")


@pytest.mark.parametrize(("a", "b"), [(3, 7), (1, 2), (N - 1, N)])
def test_swapped_rows(
    entries: list[AuditEntry], db_path: Path, tamper: Tamper, a: int, b: int
) -> None:
    sql = "UPDATE audit_log SET ts = ?, kind = ?, record = ?, prev_hash = ?, hash = ? WHERE seq = ?"
    tamper(db_path, sql, (*_row(entries[b - 1]), a))
    tamper(db_path, sql, (*_row(entries[a - 1]), b))
    _check(db_path, a, "prev_hash does not link")


def test_wrong_type_is_detected(entries: list[AuditEntry], db_path: Path, tamper: Tamper) -> None:
    # STRICT refuses a BLOB in a TEXT column; an attacker can rebuild the table without it.
    conn = sqlite3.connect(str(db_path))
    try:
        conn.executescript(
            """
            CREATE TABLE loose (seq INTEGER PRIMARY KEY, ts, kind, record, prev_hash, hash);
            INSERT INTO loose SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log;
            DROP TABLE audit_log;
            ALTER TABLE loose RENAME TO audit_log;
            UPDATE audit_log SET kind = CAST(kind AS BLOB) WHERE seq = 5;
            """
        )
    finally:
        conn.close()
    _check(db_path, 5, "field has the wrong type")


def test_truncated_tail_is_not_detected_by_the_chain_alone(
    entries: list[AuditEntry], db_path: Path, tamper: Tamper
) -> None:
    # Documented limitation: dropping the newest entries leaves a valid shorter chain.
    # Signed checkpoints of the head (a later issue) detect it.
    tamper(db_path, "DELETE FROM audit_log WHERE seq > 5")
    result = verify_file(db_path)
    assert result.ok and result.length == 5 and result.head_hash == entries[4].hash
