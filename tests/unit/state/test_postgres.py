"""The PostgreSQL backend's own behaviour (the shared contract is in tests/contract/)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from pgkit import Cluster, fresh_database, running_cluster

from zone.audit import AuditChain
from zone.errors import FailedPrecondition, InvalidArgument, Unavailable
from zone.ledger import Account, Amount, PrivacyLedger
from zone.ledger.charges import REPLICA_DIED, AlreadySettled
from zone.state import connect, load_migrations, migrate
from zone.state.location import PoolOptions
from zone.state.owners import OWNER_LOCKS
from zone.state.pgschema import applied_migrations, migrate_postgres
from zone.state.postgres import PostgresState
from zone.state.presence import RETRY_SECONDS, application_name

SMALL = PoolOptions(min_connections=1, max_connections=4, timeout_seconds=2)


def _columns_sqlite(path: Path) -> dict[str, list[str]]:
    conn = connect(path)
    try:
        migrate(conn)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
        return {
            t: sorted(r[1] for r in conn.execute(f"PRAGMA table_xinfo({t})") if r[1] != "rowid")
            for t in tables
        }
    finally:
        conn.close()


def _columns_postgres(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        if column != "rowid":  # SQLite's implicit rowid, made explicit on PostgreSQL
            columns.setdefault(table, []).append(column)
    return {t: sorted(c) for t, c in columns.items()}


def test_both_dialects_ship_the_same_migrations() -> None:
    sqlite_side = [(m.version, m.name) for m in load_migrations("sqlite")]
    postgres_side = [(m.version, m.name) for m in load_migrations("postgresql")]
    assert sqlite_side == postgres_side and sqlite_side[0] == (1, "audit")
    with pytest.raises(ValueError, match="dialect"):
        load_migrations("mysql")


def test_both_dialects_make_the_same_tables_and_columns(pg_url: str, tmp_path: Path) -> None:
    assert _columns_postgres(pg_url) == _columns_sqlite(tmp_path / "s.db")


def test_migrate_is_idempotent_and_safe_when_replicas_start_together(
    pg_cluster: Cluster,
) -> None:
    url = pg_cluster.create_database()
    applied: list[list[int]] = []

    def start() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            applied.append(migrate_postgres(conn))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    known = [m.version for m in load_migrations("postgresql")]
    assert sorted(applied, key=len) == [[], [], known]
    with psycopg.connect(url, autocommit=True) as conn:
        assert applied_migrations(conn) == known


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'x', 'now')")
    with pytest.raises(FailedPrecondition) as info:
        PostgresState.open(pg_url, SMALL)
    assert info.value.reason == "schema_too_new"


def test_an_unreachable_database_is_unavailable(pg_cluster: Cluster) -> None:
    from pgkit import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    with pytest.raises(Unavailable) as info:
        PostgresState.open(url, PoolOptions(min_connections=1, timeout_seconds=1))
    assert "127.0.0.1" in info.value.message


def test_reads_are_one_read_only_snapshot_and_nest(pg_url: str) -> None:
    with PostgresState.open(pg_url, SMALL) as state:
        with state.read() as tx, state.read() as inner:
            assert inner is tx
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                tx.execute("INSERT INTO dataset_spend (dataset) VALUES ('d')")


def test_durable_false_commits_without_waiting_for_the_flush(pg_url: str) -> None:
    with PostgresState.open(pg_url, SMALL) as state:
        with state.write(durable=False) as tx:
            assert tx.execute("SHOW synchronous_commit").fetchone() == ("off",)
        with state.write() as tx:
            assert tx.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_values_come_back_as_sqlite_returns_them(pg_url: str) -> None:
    with PostgresState.open(pg_url, SMALL) as state:
        with state.write() as tx:
            tx.execute("INSERT INTO dataset_spend VALUES (?, ?, 0), (?, ?, 0)",
                       ("a", 2**40, "b", 2**40))  # fmt: skip
            assert tx.execute("INSERT INTO dataset_spend (dataset) VALUES ('c')").fetchone() is None
        with state.read() as tx:
            (total,) = tx.execute("SELECT SUM(epsilon_micro) FROM dataset_spend").fetchone()
        assert total == 2**41 and isinstance(total, int)


def test_a_nul_character_is_an_invalid_argument(pg_url: str) -> None:
    with PostgresState.open(pg_url, SMALL) as state:
        with pytest.raises(InvalidArgument), state.write() as tx:
            tx.execute("INSERT INTO dataset_spend (dataset) VALUES (?)", ("a\x00b",))


def test_a_restarted_server_is_unavailable_then_serves_again() -> None:
    with running_cluster() as cluster, fresh_database(cluster, "template0") as url:
        with PostgresState.open(url, SMALL) as state:
            with state.write() as tx:
                tx.execute("CREATE TABLE t (x BIGINT)")
            cluster.pg_ctl("-m", "immediate", "-w", "stop")
            with pytest.raises(Unavailable), state.write() as tx:
                tx.execute("INSERT INTO t VALUES (1)")
            cluster.restart()
            for _ in range(SMALL.max_connections + 1):  # every pooled connection was broken
                try:
                    with state.write() as tx:
                        tx.execute("INSERT INTO t VALUES (2)")
                    break
                except Unavailable:
                    continue
            with state.read() as tx:
                assert tx.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_only_a_replica_alone_settles_what_dead_ones_left(pg_url: str) -> None:
    replicas = [PostgresState.open(pg_url, SMALL) for _ in range(3)]
    try:
        with replicas[0].startup() as alone:
            assert alone
        with replicas[1].startup() as alone:
            assert not alone  # the first one serves: its open work is its own
        replicas[0].close()  # its session ends, as when a replica dies
        with replicas[2].startup() as alone:
            assert not alone  # the second one still serves
        replicas[1].close()
        replicas[2].close()
        with PostgresState.open(pg_url, SMALL) as last, last.startup() as alone:
            assert alone
    finally:
        for replica in replicas:
            replica.close()


def _terminate_presence(url: str, replica: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name(replica),),
        )


def _join(*replicas: PostgresState) -> None:
    for replica in replicas:
        with replica.startup():
            pass


def _charge(state: PostgresState) -> str:
    """A reserved charge owned by ``state``'s replica (its id is the row's owner)."""
    ledger = PrivacyLedger(state, AuditChain(state))
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    return ledger.reserve(account, product="p", cost=Amount.cost(0.1), request_id="r").release_id


def test_a_lost_presence_fences_writes_until_the_place_is_taken_back(pg_url: str) -> None:
    """The replica's session is killed while another session (a sweeper) holds its lock:
    writes are UNAVAILABLE, reads go on; once the lock is free the place is taken back."""
    with PostgresState.open(pg_url, SMALL) as replica, PostgresState.open(pg_url, SMALL) as other:
        _join(replica, other)
        open_charge = _charge(replica)
        assert replica.hold_place()
        with psycopg.connect(pg_url, autocommit=True) as sweeper:
            _terminate_presence(pg_url, replica.replica)
            lock = (OWNER_LOCKS, replica.replica)
            sweeper.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
            assert not replica.hold_place()
            with pytest.raises(Unavailable, match="lost its place"), replica.write():
                pass
            with replica.read() as tx:  # reads are not fenced
                assert tx.execute("SELECT COUNT(*) FROM charges").fetchone()[0] == 1
            with other.orphaned() as dead:
                assert dead == []  # the sweeper holds the lock: nobody else settles
            sweeper.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)
        time.sleep(RETRY_SECONDS)
        with replica.write():  # a call takes the place back (at most one try a second)
            pass
        assert replica.hold_place()
        with other.orphaned() as dead:
            assert dead == []  # back in place: its open charge is live work again
        with replica.read() as tx:
            assert tx.execute(
                "SELECT state FROM charges WHERE release_id = ?", (open_charge,)
            ).fetchone() == ("reserved",)


def test_a_lost_presence_lets_another_replica_settle_the_work_once(pg_url: str) -> None:
    """The sweep wins the replica's lock first: the open charge is failed by the sweep, the
    replica is fenced until the sweep ends, and its own late settlement changes nothing."""
    quick = PoolOptions(min_connections=1, max_connections=4, orphan_sweep_seconds=0.05)
    with PostgresState.open(pg_url, SMALL) as replica, PostgresState.open(pg_url, quick) as other:
        _join(replica, other)
        ledger = PrivacyLedger(replica, AuditChain(replica))
        open_charge = _charge(replica)
        _terminate_presence(pg_url, replica.replica)
        with other.orphaned() as dead:
            assert dead == []  # suspected: the replica gets two rounds to take its place back
        time.sleep(0.1)
        with other.orphaned() as dead:
            assert dead == [replica.replica]
            assert not replica.hold_place()  # the sweeper holds its lock while it settles
            assert PrivacyLedger(other, AuditChain(other)).recover(replica.replica) == 1
        assert replica.hold_place()
        with pytest.raises(AlreadySettled) as settled:
            ledger.release(ledger.reservation(open_charge), {})
        assert (settled.value.state, settled.value.settled_because) == ("failed", REPLICA_DIED)
