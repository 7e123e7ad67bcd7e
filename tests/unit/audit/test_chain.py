from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from zone.audit import (
    GENESIS_HASH,
    AuditChain,
    canonical_json,
    entry_hash,
    verify_chain,
    verify_file,
)
from zone.errors import FailedPrecondition, InvalidArgument
from zone.state import StateStore


def _rpc(i: int) -> dict[str, object]:
    return {
        "time": "2026-01-01T00:00:00Z",
        "request_id": f"req-{i}",
        "principal": "bank-ä" if i % 2 else "researcher-1",
        "role": "operator",
        "method": "/zone.v1.Statistics/Query",
        "decision": "allow",
        "status": 0,
        "nested": {"b": [1, 2.5, None, True], "a": "数据"},
    }


def test_empty_chain(chain: AuditChain, store: StateStore, db_path: Path) -> None:
    assert chain.head() == (0, GENESIS_HASH)
    assert chain.entries() == []
    result = verify_chain(store.conn)
    assert (result.ok, result.length, result.head_hash, result.first_bad_seq) == (
        True,
        0,
        GENESIS_HASH,
        0,
    )
    assert verify_file(db_path).ok


def test_append_and_verify_round_trip(chain: AuditChain, db_path: Path) -> None:
    appended = [chain.append("rpc", _rpc(i)) for i in range(5)]
    assert [e.seq for e in appended] == [1, 2, 3, 4, 5]
    assert appended[0].prev_hash == GENESIS_HASH
    for before, after in zip(appended, appended[1:], strict=False):
        assert after.prev_hash == before.hash
    for e in appended:
        assert e.hash == entry_hash(e.prev_hash, e.seq, e.ts, e.kind, canonical_json(e.record))
        assert datetime.fromisoformat(e.ts).utcoffset() is not None
        assert len(e.ts.split(".")[1].split("+")[0]) == 6  # microseconds
    assert chain.entries() == appended
    assert chain.head() == (5, appended[-1].hash)
    result = verify_file(db_path)
    assert result.ok and result.length == 5 and result.head_hash == appended[-1].hash
    assert result.reason == "ok"


def test_entries_pages(chain: AuditChain) -> None:
    for i in range(7):
        chain.append("rpc", {"i": i})
    assert [e.seq for e in chain.entries(since_seq=2, limit=3)] == [3, 4, 5]
    assert [e.record["i"] for e in chain.entries(since_seq=5)] == [5, 6]
    assert chain.entries(since_seq=7) == []
    for bad in ({"since_seq": -1}, {"limit": 0}, {"limit": 10_001}):
        with pytest.raises(InvalidArgument):
            chain.entries(**bad)


@pytest.mark.parametrize(
    ("kind", "record"),
    [
        ("", {"a": 1}),
        ("rpc", {"a": math.nan}),
        ("rpc", {"a": math.inf}),
        ("rpc", {"a": object()}),
        ("rpc", {1: "int key", "1": "collides"}),
        ("rpc", {2: "x", 10: "sorts differently as text"}),
        ("rpc", {"a": "\ud800"}),  # lone surrogate: not UTF-8 encodable
        ("rpc", ["not", "an", "object"]),
    ],
)
def test_invalid_records_are_refused(chain: AuditChain, kind: str, record: object) -> None:
    with pytest.raises(InvalidArgument):
        chain.append(kind, record)  # type: ignore[arg-type]
    assert chain.head() == (0, GENESIS_HASH)


def test_append_joins_caller_transaction(chain: AuditChain, store: StateStore) -> None:
    with store.write() as conn:
        conn.execute("CREATE TABLE ledger (spent INTEGER)")
    with pytest.raises(RuntimeError, match="budget"), store.write() as conn:
        conn.execute("INSERT INTO ledger VALUES (5)")
        entry = chain.append("rpc", {"decision": "allow"}, conn=conn)
        assert entry.seq == 1
        raise RuntimeError("budget check failed late")
    assert chain.head() == (0, GENESIS_HASH)
    with store.write() as conn:
        conn.execute("INSERT INTO ledger VALUES (5)")
        first = chain.append("rpc", {"decision": "allow"}, conn=conn)
        second = chain.append("rpc", {"decision": "deny"}, conn=conn)
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.hash)
    assert chain.head() == (2, second.hash)
    with store.read() as conn:
        assert conn.execute("SELECT spent FROM ledger").fetchall() == [(5,)]
    assert verify_chain(store.conn).ok


def test_append_with_conn_needs_open_transaction(chain: AuditChain, store: StateStore) -> None:
    with pytest.raises(RuntimeError):
        chain.append("rpc", {}, conn=store.conn)


def test_principal_and_request_id_are_derived_from_record(
    chain: AuditChain, store: StateStore
) -> None:
    chain.append("rpc", {"principal": "bank-a", "request_id": "r1"})
    chain.append("server.start", {"version": "0.1.0"})
    chain.append("rpc", {"principal": "bank-a", "request_id": "r2"})
    with store.read() as conn:
        rows = conn.execute(
            "SELECT seq, request_id FROM audit_log WHERE principal = ? ORDER BY seq", ("bank-a",)
        ).fetchall()
    assert rows == [(1, "r1"), (3, "r2")]


def test_zone_code_cannot_update_or_delete(chain: AuditChain, store: StateStore) -> None:
    chain.append("rpc", {"a": 1})
    for sql in ("UPDATE audit_log SET kind = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.write() as conn:
            conn.execute(sql)
    assert verify_chain(store.conn).ok


def test_entry_hash_fields_cannot_be_shifted() -> None:
    record = canonical_json({"a": 1})
    base = entry_hash(GENESIS_HASH, 1, "ab", "c", record)
    assert base != entry_hash(GENESIS_HASH, 1, "a", "bc", record)
    assert base != entry_hash(GENESIS_HASH, 1, "ab", "c" + record[:1], record[1:])
    assert base != entry_hash(GENESIS_HASH, 11, "b", "c", record)
    assert len(base) == 64 and int(base, 16) >= 0


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"a": math.nan})
    text = canonical_json({"z": {"y": "\u2028\n"}, "a": -0.0, "n": 10**30})
    assert canonical_json(json.loads(text)) == text


def test_verify_file_missing(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="does not exist"):
        verify_file(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()


def test_verify_file_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FailedPrecondition, match="cannot be read"):
        verify_file(path)


def test_verify_file_without_audit_log_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(FailedPrecondition, match="no audit_log"):
        verify_file(path)
    conn = sqlite3.connect(str(path))
    try:  # no migration ran
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    finally:
        conn.close()
    assert names == ["t"]


def test_verify_file_while_serving_and_after_close(tmp_path: Path) -> None:
    path = tmp_path / "odd ?#% name" / "zone.db"
    with StateStore.open(path) as store:
        chain = AuditChain(store)
        for i in range(3):
            chain.append("rpc", {"i": i})
        assert verify_file(path).length == 3
        chain.append("rpc", {"i": 3})
    assert verify_file(path).length == 4
