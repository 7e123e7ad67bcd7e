"""PostgreSQL write transactions in few round trips (``zone.state.pgtx``), on a real cluster.

A write's BEGIN and the chain lock go out with its first statement, followed by the chain's
head; INSERTs nobody reads ride on the next round trip. What must stay true: the head is the
newest committed one once the lock is granted (the chain stays linear under concurrent
writers), a queued statement's failure fails the whole write, and order is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from zone.audit import RECEIPT_FIELDS, AuditChain, ReleasedArtifact, ReleaseRegistry, verify_chain
from zone.errors import InvalidArgument, Unavailable
from zone.ledger import Account, Amount, PrivacyLedger
from zone.metering import Metering
from zone.policy import Grant, Price
from zone.release.desk import Order, ReleaseDesk
from zone.state.api import execute_all, execute_later
from zone.state.location import PoolOptions
from zone.state.postgres import WRITE_LOCK, PostgresState

SMALL = PoolOptions(min_connections=1, max_connections=4, timeout_seconds=5,
                    lock_timeout_seconds=1.0)  # fmt: skip


@pytest.fixture
def state(pg_url: str) -> Iterator[PostgresState]:
    with PostgresState.open(pg_url, SMALL) as opened:
        with opened.write() as tx:
            tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        yield opened


def test_a_queued_insert_is_seen_by_the_next_statement_and_commits(state: PostgresState) -> None:
    with state.write() as tx:
        execute_later(tx, "INSERT INTO t VALUES (?)", (1,))
        assert tx.execute("SELECT count(*) FROM t WHERE k = ?", (1,)).fetchone() == (1,)
        execute_later(tx, "INSERT INTO t VALUES (?)", (2,))
    with state.read() as tx:
        assert tx.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (2,)]


def test_a_failing_queued_insert_fails_the_write_and_rolls_back_all_of_it(
    state: PostgresState,
) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation):
        with state.write() as tx:
            tx.execute("INSERT INTO t VALUES (?)", (1,))
            execute_later(tx, "INSERT INTO t VALUES (?)", (1,))  # fails only at the COMMIT
    with state.read() as tx:
        assert tx.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with state.write() as tx:  # the pooled connection is usable again
        results = execute_all(tx, [("INSERT INTO t VALUES (?)", (3,)), ("SELECT k FROM t", ())])
        assert results[0].rowcount == 1 and results[1].fetchall() == [(3,)]


def test_a_writer_waiting_for_the_lock_appends_after_the_holder_s_entry(
    state: PostgresState,
) -> None:
    chain = AuditChain(state)
    appended, entries = threading.Event(), []

    def first() -> None:
        with state.write() as tx:
            entries.append(chain.append("test", {"n": 1}, conn=tx))
            appended.set()
            threading.Event().wait(0.3)  # the second writer queues for the lock meanwhile

    holder = threading.Thread(target=first)
    holder.start()
    assert appended.wait(10)
    with state.write() as tx:  # its head read waits for the lock, then sees the commit
        second = chain.append("test", {"n": 2}, conn=tx)
    holder.join()
    assert (second.seq, second.prev_hash) == (2, entries[0].hash)
    with state.read() as tx:
        assert verify_chain(tx).ok


def test_a_write_that_runs_nothing_sends_nothing(state: PostgresState, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        with state.write():
            pass  # would wait for the lock (and time out) if BEGIN had been sent
        with pytest.raises(Unavailable):
            with state.write() as tx:
                tx.execute("INSERT INTO t VALUES (?)", (1,))


@contextmanager
def counted_round_trips() -> Iterator[list[int]]:
    """Count the round trips psycopg makes: one per pipeline, one per statement outside one."""
    count = [0]
    pipeline, execute = psycopg.Connection.pipeline, psycopg.Cursor.execute

    def counting_pipeline(self: psycopg.Connection[Any]) -> Any:
        count[0] += 1
        return pipeline(self)

    def counting_execute(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        if self.connection._pipeline is None:
            count[0] += 1
        return execute(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(psycopg.Connection, "pipeline", counting_pipeline)
        patch.setattr(psycopg.Cursor, "execute", counting_execute)
        yield count


def test_a_reservation_takes_two_round_trips(state: PostgresState) -> None:
    ledger = PrivacyLedger(state, AuditChain(state))
    account = Account("p", "d", Amount.limit(1.0, 1e-6))
    ledger.reserve(account, product="s", cost=Amount.cost(0.1), request_id="r0")  # rows exist
    with counted_round_trips() as count:
        ledger.reserve(account, product="s", cost=Amount.cost(0.1), request_id="r1")
    # BEGIN, lock, head, both spend UPDATEs | the charge, its audit entry, COMMIT
    assert count[0] == 2
    with state.read() as tx:
        assert verify_chain(tx).ok


def test_a_desk_reservation_takes_four_round_trips(state: PostgresState) -> None:
    audit = AuditChain(state)
    ledger = PrivacyLedger(state, audit)
    metering = Metering(state, audit, lambda product: ("d", (("prov", Decimal(1)),)))
    desk = ReleaseDesk(state, ledger, metering, ReleaseRegistry(state, audit))
    grant = Grant("p", ("s",), {}, "testing", calls_per_day=100,
                  price=Price("CNY", per_call_micro=50_000))  # fmt: skip
    account = Account("p", "d", Amount.limit(1.0, 1e-6))

    def order(request_id: str) -> Order:
        return Order("p", grant, "s", "call", request_id, account, Amount.cost(0.1))

    desk.reserve(order("r0"))  # the budget, quota and volume rows exist
    with counted_round_trips() as count:
        desk.reserve(order("r1"))
    # BEGIN, lock, head, exit check | 2 spend UPDATEs | charge, its audit entry, quota,
    # volume | usage, revenue share, metering's audit entry, COMMIT
    assert count[0] == 4
    with state.read() as tx:
        assert verify_chain(tx).ok
        assert tx.execute("SELECT count(*) FROM usage").fetchone() == (2,)


def test_an_append_of_its_own_takes_two_round_trips(state: PostgresState) -> None:
    chain = AuditChain(state)
    chain.append("test", {"n": 0})
    with counted_round_trips() as count:
        entry = chain.append("test", {"n": 1})
    assert count[0] == 2  # BEGIN, lock, head | the entry, COMMIT
    assert entry.seq == 2
    with state.read() as tx:
        assert verify_chain(tx).ok


HOSTILE = [
    "'", "''", "\\", "\\'", "'; DROP TABLE t; --", "$$", "$tag$ x $tag$", "%s", "%(k)s", "%%",
    "?", ":k", "E'\\x41'", "\"", "`", ";", "\n\r\t", "é中文\U0001f600", "\u2028", "a" * 10_000,
    "1); DELETE FROM t; SELECT (1", "\\\\'", "' OR '1'='1",
]  # fmt: skip


def test_values_sent_in_one_round_trip_are_stored_exactly_whatever_they_hold(
    state: PostgresState,
) -> None:
    """Batched statements carry values quoted by psycopg: none may change the SQL."""
    with state.write() as tx:
        tx.execute("CREATE TABLE v (k INTEGER PRIMARY KEY, s TEXT)")
    with state.write() as tx:
        for k, value in enumerate(HOSTILE):
            execute_later(tx, "INSERT INTO v (k, s) VALUES (?, ?)", (k, value))
        found = execute_all(
            tx, [("SELECT s FROM v WHERE s = :s AND k = :k", {"s": v, "k": k})
                 for k, v in enumerate(HOSTILE)],
        )  # fmt: skip
        assert [result.fetchall() for result in found] == [[(v,)] for v in HOSTILE]
    with state.read() as tx:
        assert tx.execute("SELECT k, s FROM v ORDER BY k").fetchall() == list(enumerate(HOSTILE))
        assert tx.execute("SELECT count(*) FROM t").fetchone() == (0,)  # still there, untouched


def test_a_nul_character_in_a_queued_value_is_invalid_argument_and_writes_nothing(
    state: PostgresState,
) -> None:
    with pytest.raises(InvalidArgument):
        with state.write() as tx:
            tx.execute("INSERT INTO t VALUES (?)", (1,))
            AuditChain(state).append("test", {"s": "a\x00b"}, conn=tx)
    with state.read() as tx:
        assert tx.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert tx.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


def test_a_durable_release_takes_two_round_trips(state: PostgresState) -> None:
    ledger = PrivacyLedger(state, AuditChain(state))
    account = Account("p", "d", Amount.limit(1.0, 1e-6))
    reservation = ledger.reserve(account, product="s", cost=Amount.cost(0.1), request_id="r")
    receipt = dict.fromkeys(RECEIPT_FIELDS, "x") | {
        "release_id": reservation.release_id, "principal": "p", "product": "s",
    }  # fmt: skip
    with counted_round_trips() as count:
        entry = ledger.release(
            reservation, receipt, artifact=ReleasedArtifact("statistics", {"n": 1})
        )
    assert count[0] == 2  # BEGIN, lock, head, settle UPDATE | receipt, registry row, COMMIT
    with state.read() as tx:
        assert verify_chain(tx).ok
        row = tx.execute(
            "SELECT audit_seq FROM releases WHERE release_id = ?", (reservation.release_id,)
        )
        assert row.fetchone() == (entry.seq,)
