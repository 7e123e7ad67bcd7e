from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from zone.errors import FailedPrecondition
from zone.state import (
    Migration,
    StateStore,
    connect,
    load_migrations,
    migrate,
    split_statements,
)


def _versions(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_connect_creates_parent_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "state.db"
    conn = connect(path)
    try:
        assert path.is_file()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert conn.isolation_level is None
        assert not conn.in_transaction
    finally:
        conn.close()


def test_store_connections_use_wal_and_full_sync(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        for conn in (store.conn,):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        with store.read() as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert reader.execute("PRAGMA query_only").fetchone()[0] == 1


def test_migrations_apply_once_and_are_idempotent(tmp_path: Path) -> None:
    known = [m.version for m in load_migrations()]
    assert known and known == sorted(known) and known[0] == 1
    conn = connect(tmp_path / "s.db")
    try:
        assert migrate(conn) == known
        assert migrate(conn) == []
        assert _versions(conn) == known
        names = conn.execute("SELECT name FROM schema_migrations WHERE version = 1").fetchone()
        assert names == ("audit",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"schema_migrations", "audit_log"} <= tables
    finally:
        conn.close()


def test_reopen_keeps_data_and_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StateStore.open(path) as store, store.write() as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (42)")
    with StateStore.open(path) as store:
        with store.read() as conn:
            assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]
        assert migrate(store.conn) == []


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StateStore.open(path) as store, store.write() as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'x', 'now')"
        )
    with pytest.raises(FailedPrecondition) as info:
        StateStore.open(path)
    assert info.value.reason == "schema_too_new"
    assert "9999" in info.value.message


def test_migrations_apply_in_order_each_atomically(tmp_path: Path) -> None:
    good = [
        Migration(2, "second", "ALTER TABLE a ADD COLUMN y TEXT;"),
        Migration(1, "first", "CREATE TABLE a (x INTEGER);\n-- trailing comment\n"),
    ]
    broken = Migration(3, "broken", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    conn = connect(tmp_path / "s.db")
    try:
        assert migrate(conn, good) == [1, 2]
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, [*good, broken])
        assert _versions(conn) == [1, 2]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "b" not in tables  # the failed migration left nothing behind
        assert not conn.in_transaction
    finally:
        conn.close()


def test_split_statements_handles_triggers_strings_and_comments() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER t_guard BEFORE DELETE ON t
    BEGIN
        SELECT RAISE(ABORT, 'no; never');
    END;
    INSERT INTO t VALUES ('c;d');
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(ValueError):
        split_statements("CREATE TABLE t (x INTEGER); SELECT 1")


def test_write_commits_and_rolls_back_on_exception(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        with store.write() as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
            conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(KeyError), store.write() as conn:
            conn.execute("INSERT INTO t VALUES (2)")
            raise KeyError("boom")
        assert not store.conn.in_transaction
        with store.read() as conn:
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_write_is_not_reentrant(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        with store.write(), pytest.raises(RuntimeError), store.write():
            pass  # pragma: no cover
        with store.write() as conn:  # the lock was released
            conn.execute("SELECT 1")


def test_read_does_not_see_uncommitted_writes(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        with store.write() as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
        in_write = threading.Event()
        release = threading.Event()

        def writer() -> None:
            with store.write() as conn:
                conn.execute("INSERT INTO t VALUES (7)")
                in_write.set()
                release.wait(5)

        thread = threading.Thread(target=writer)
        thread.start()
        assert in_write.wait(5)
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
        release.set()
        thread.join()
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_read_connection_is_read_only(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db") as store:
        with store.read() as conn, pytest.raises(sqlite3.OperationalError):
            conn.execute("CREATE TABLE t (x INTEGER)")


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "s.db")
    with store.read():
        pass
    store.close()
    store.close()
    with pytest.raises(FailedPrecondition), store.write():
        pass  # pragma: no cover
    with pytest.raises(FailedPrecondition), store.read():
        pass  # pragma: no cover


def test_write_durability_sets_synchronous_per_transaction(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "zone.db") as store:
        with store.write(durable=False) as conn:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with store.write() as conn:
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with store.write(durable=False):
            pass
        with store.write() as conn:  # a later durable write is FULL again
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_synchronous_follows_every_switch_when_writes_repeat_a_mode(tmp_path: Path) -> None:
    """The PRAGMA is skipped when the mode is unchanged: runs of each mode still get theirs."""
    with StateStore.open(tmp_path / "zone.db") as store:
        for durable in (True, True, False, False, False, True, False, True, True):
            with store.write(durable=durable) as conn:
                expected = 2 if durable else 1  # FULL, NORMAL
                assert conn.execute("PRAGMA synchronous").fetchone()[0] == expected
