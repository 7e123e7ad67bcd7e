"""The state interface every backend implements: transactions over the zone's state tables.

The core (ledger, metering, jobs, model registry, verification keys and limits, consents, audit
chain, release registry) reads and writes its tables only through a :class:`Tx` handed out by a
:class:`State`. A transaction spans concerns on purpose: the release recipe (budget, quota and
admission reserved together; the receipt, its audit record and the result settled together)
needs the ledger, metering and audit rows of one call to commit or roll back as one.

SQL written against a ``Tx`` keeps to the subset SQLite and PostgreSQL share: ``?``
placeholders (or ``:name``), ``INSERT ... ON CONFLICT DO NOTHING``, conditional ``UPDATE``
whose ``rowcount`` decides an admission (exact under concurrent writers on both: measured,
see docs/ARCHITECTURE.md), upsert targets qualified by an alias (``INSERT INTO t AS x ...
DO UPDATE SET c = x.c``), ``CASE`` rather than SQLite's scalar ``max()``, and SQLite's
``json_extract``/``json_each`` (the PostgreSQL schema defines both). A backend translates
placeholders if its driver needs it.

Several statements whose results are only needed together go through :func:`execute_all`,
and a statement whose result nobody reads through :func:`execute_later`: on a backend that
pipelines (PostgreSQL) they share round trips with other statements, elsewhere each runs
at once.

Implementations: :class:`zone.state.db.StateStore` (SQLite, WAL, ``synchronous=FULL``) and
:class:`zone.state.postgres.PostgresState` (PostgreSQL, shared by replicas); both pass
``tests/contract/test_state_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Params = Sequence[Any] | Mapping[str, Any]
Statement = tuple[str, Params]
"""One SQL statement and its parameters."""


class Waiter(Protocol):
    """Announcements on one channel, heard by one thread (:meth:`State.listen`)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if an announcement came (a listener polls too)."""
        ...

    def close(self) -> None:
        """Stop listening (idempotent)."""
        ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE (the admission decision of a conditional one)."""
        ...

    def fetchone(self) -> Any:
        """The next row as a tuple, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows as tuples."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        ...

    def close(self) -> None:
        """Drop the remaining rows."""
        ...


class Tx(Protocol):
    """An open transaction: statements run in it and commit or roll back together."""

    def execute(self, sql: str, parameters: Params = ..., /) -> Cursor:
        """Run one statement inside the transaction."""
        ...

    def executemany(self, sql: str, seq_of_parameters: Sequence[Params], /) -> Cursor:
        """Run one statement once per parameter set inside the transaction."""
        ...

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (a joined ``Tx`` must be)."""
        ...


class State(Protocol):
    """A state backend: one writer transaction at a time, snapshot reads.

    One writer per SQLite file; per PostgreSQL database, across all replicas.
    """

    def write(self, *, durable: bool = True) -> AbstractContextManager[Tx]:
        """A write transaction; commits when the body returns, rolls back when it raises.

        ``durable=True`` returns only after the commit is on stable storage (anything that
        spends budget or releases output); ``durable=False`` may lose the newest commits in
        an OS crash, never in a process crash.
        """
        ...

    def writing(self) -> bool:
        """Whether the calling thread is inside ``write()`` (which it must not enter again)."""
        ...

    def joined(self, tx: Tx | None) -> AbstractContextManager[Tx]:
        """Join the caller's open write transaction ``tx``, or run a durable one of our own."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """A read transaction: every statement in it sees one committed snapshot."""
        ...

    def startup(self) -> AbstractContextManager[bool]:
        """Join the processes serving this state; the body learns whether it is the only one.

        Yields True when no other process serves the state, so that the body may settle the
        work a dead process left open (reserved charges, unfinished jobs); no other process
        can join until the body ends. False: others are serving, and their open work is not
        this process's to settle. The process stays joined until ``close()``.
        """
        ...

    def hold_place(self) -> bool:
        """Whether this process holds its place among those serving the state.

        Always True where one process serves the state. On a shared backend the place is a
        database session; once it is lost (the others may then settle this process's open
        work) write transactions are refused until a call here takes the place back.
        """
        ...

    def orphaned(self) -> AbstractContextManager[list[str]]:
        """The ids of dead processes that left charges or jobs open, while the body settles them.

        Empty where one process serves the state (SQLite: ``startup`` settles what a crash
        left). On a shared backend, no other process settles the same owner's work until the
        body ends.
        """
        ...

    def announce(self, tx: Tx, channel: str) -> None:
        """Tell the other processes on ``channel`` once ``tx`` commits (none on SQLite)."""
        ...

    def listen(self, channel: str) -> Waiter | None:
        """Hear announcements on ``channel``; None where one process serves the state."""
        ...

    def close(self) -> None:
        """Release the backend's connections (idempotent)."""
        ...


class PipelinedTx(Protocol):
    """A transaction that saves round trips (PostgreSQL)."""

    def execute_all(self, statements: Sequence[Statement], /) -> Sequence[Cursor]:
        """Run ``statements`` in order; return their results once the last one ran."""
        ...

    def execute_later(self, sql: str, parameters: Params, /) -> None:
        """Queue a statement to run, in order, with the transaction's next one or its COMMIT."""
        ...


class ChainHeadTx(Protocol):
    """A write transaction that read the audit chain's head under the chain lock as it began.

    No other writer can append until it commits, so the chain appends after
    ``chain_head()`` without reading the head again (PostgreSQL: one round trip less).
    """

    def chain_head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the newest entry in this transaction; None: the chain is empty."""
        ...

    def advance_chain_head(self, seq: int, digest: str) -> None:
        """Record an entry this transaction appended."""
        ...


class Ran:
    """The materialized result of one statement (rows read at once, as a pipeline reads them)."""

    def __init__(self, cursor: Cursor) -> None:
        self._rows = iter(cursor.fetchall())
        self._rowcount = cursor.rowcount

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement."""
        return self._rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        return next(self._rows, None)

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows."""
        return self._rows

    def close(self) -> None:
        """Drop the remaining rows."""
        self._rows = iter(())


def execute_all(tx: Tx, statements: Sequence[Statement]) -> Sequence[Cursor]:
    """Run ``statements`` in order in ``tx``; return their results, in order.

    One round trip where ``tx`` pipelines (:class:`PipelinedTx`), else one statement after
    the other. Either way every statement runs before any result is looked at, so a caller
    that refuses on a result raises out of its ``write()``, which rolls all of them back.

    Raises:
        Whatever the backend raises for a failing statement (the ones after it may not run).
    """
    run_all = getattr(tx, "execute_all", None)  # a PipelinedTx (not isinstance: it is slow)
    if run_all is not None:
        results: Sequence[Cursor] = run_all(statements)
        return results
    return [Ran(tx.execute(sql, parameters)) for sql, parameters in statements]


def execute_later(tx: Tx, sql: str, parameters: Params) -> None:
    """Run a statement whose result nobody reads, now or with ``tx``'s next round trip.

    Order is kept: every later statement of ``tx`` sees its effect. Only an error it raises
    may surface later, at ``tx``'s next statement or its commit (either way the whole
    transaction rolls back).
    """
    later = getattr(tx, "execute_later", None)
    if later is not None:
        later(sql, parameters)
    else:
        tx.execute(sql, parameters)
