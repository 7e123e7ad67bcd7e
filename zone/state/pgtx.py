"""PostgreSQL transactions as the core sees them: statements, batches, and the chain's head.

:class:`PgTx` runs statements on one pooled connection (placeholders translated by
``zone.state.sqltext``). Round trips are what a write transaction waits for while it holds
the chain lock, so they are saved where no result is needed:

* :meth:`PgTx.execute_all` sends several statements in one round trip (one multi-statement
  query): the server runs them in order, each with the snapshot of its own start, and the
  results are all read back after the last one.
* :meth:`PgTx.execute_later` queues a statement whose result nobody reads (an INSERT of a new
  row); it is sent, in order, in the round trip of the transaction's next statement or of its
  COMMIT. Order is kept, so every later statement sees its effect; only its error surfaces
  later, at that next statement or the COMMIT.

A failing statement aborts the rest and raises; the transaction is then rolled back by its
``write()``, with whatever was queued.

:class:`PgWriteTx` is a write transaction. Its BEGIN and the chain lock are queued, not sent:
they go out with the transaction's first statement, followed by a read of the audit chain's
head (``chain_head``), which no other writer can move until this one commits (each
statement has the snapshot of its own start, so the read sees every commit made before the
lock was granted). The audit chain appends after that head without reading it again
(``zone.audit.chain``), and records each append here (``advance_chain_head``). A lock or
connection error of the BEGIN so surfaces at the first statement, as the same exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from zone.state.api import Params, Ran, Statement
from zone.state.sqltext import to_psycopg

Connection = psycopg.Connection[tuple[Any, ...]]


class PgCursor:
    """The result of one statement, with SQLite's behaviour for statements returning no rows."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE."""
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        """The next row as a tuple, or None (also for a statement that returns no rows)."""
        return None if self._cursor.description is None else self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows as tuples."""
        return [] if self._cursor.description is None else self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the remaining rows (converted one by one; libpq holds the result)."""
        return iter(()) if self._cursor.description is None else iter(self._cursor)

    def close(self) -> None:
        """Drop the remaining rows."""
        self._cursor.close()


class PgResult(Ran):
    """The result of one statement of a multi-statement query, read at once."""

    def __init__(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self._rowcount = cursor.rowcount
        self._rows = iter(cursor.fetchall() if cursor.description is not None else ())


class PgTx:
    """An open transaction on one pooled connection; it ends with its ``write()``/``read()``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._open = True
        self._later: list[Statement] = []

    @property
    def in_transaction(self) -> bool:
        """Whether the transaction is still open."""
        return self._open

    def execute(self, sql: str, parameters: Params = (), /) -> PgCursor | PgResult:
        """Run one statement inside the transaction (after the statements queued for later)."""
        if self._later and parameters:
            return self.execute_all([(sql, parameters)])[0]
        self._flush()
        cursor = self._cursor()
        if parameters:
            cursor.execute(to_psycopg(sql), parameters)
        else:
            cursor.execute(sql.encode("utf-8"))
        return PgCursor(cursor)

    def executemany(self, sql: str, seq_of_parameters: Sequence[Params], /) -> PgCursor:
        """Run one statement once per parameter set inside the transaction."""
        self._flush()
        cursor = self._cursor()
        if seq_of_parameters:
            cursor.executemany(to_psycopg(sql), seq_of_parameters)
        return PgCursor(cursor)

    def execute_all(self, statements: Sequence[Statement], /) -> list[PgResult]:
        """Run ``statements`` in order in one round trip; return their results, in order.

        Sent as one multi-statement query (the simple query protocol, values bound on the
        client by psycopg's own quoting): one write and one wake-up, where psycopg's
        pipeline mode polls the socket once per statement.

        Raises:
            psycopg.Error: a statement failed; the ones after it did not run, and the
                transaction must be rolled back.
        """
        self._cursor()  # refuses a transaction that is over
        later, kept = self._later, self._reads()
        binder = psycopg.ClientCursor(self._conn)
        text = "; ".join(  # a value that cannot be sent raises here, with nothing dropped
            binder.mogrify(to_psycopg(sql), parameters) if parameters else sql
            for sql, parameters in [*later, *kept, *statements]
        )
        self._later = []
        cursor = self._conn.cursor()
        cursor.execute(text.encode("utf-8"))
        results = [PgResult(cursor)]
        while cursor.nextset():
            results.append(PgResult(cursor))
        results = results[len(later) :]
        self._read(results[: len(kept)])
        return results[len(kept) :]

    @property
    def driver_connection(self) -> Connection:
        """The psycopg connection the transaction runs on, with everything queued sent.

        For a library that must write in the same transaction (procrastinate's defer,
        ``zone.jobs.remote``): a write's BEGIN, lock and queued statements go out first, so
        that what the library runs is inside the transaction and after them.
        """
        self._flush()
        if not self._open:
            raise RuntimeError("the transaction is over")
        return self._conn

    def execute_later(self, sql: str, parameters: Params, /) -> None:
        """Queue a statement whose result nobody reads; it runs before the next one."""
        self._cursor()  # refuses a transaction that is over
        self._later.append((sql, parameters))

    def commit(self) -> None:
        """Run what is queued and COMMIT, in one round trip."""
        if self._later:
            self.execute_all([("COMMIT", ())])
        else:
            self._conn.execute(b"COMMIT")

    def end(self) -> None:
        """Mark the transaction over (its owner committed or rolled back)."""
        self._open = False
        self._later = []

    def _flush(self) -> None:
        if self._later:
            self.execute_all(())

    def _reads(self) -> list[Statement]:
        """Statements of the transaction's own to send with the next round trip."""
        return []

    def _read(self, results: list[PgResult]) -> None:
        """Take the results of ``_reads()``."""

    def _cursor(self) -> psycopg.Cursor[tuple[Any, ...]]:
        if not self._open:
            raise RuntimeError("the transaction is over")
        return self._conn.cursor()


_HEAD: Statement = ("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", ())
_UNREAD = (-1, "")


class PgWriteTx(PgTx):
    """A write transaction: BEGIN and the chain lock go out with its first statement."""

    def __init__(self, conn: Connection, begin: Sequence[Statement]) -> None:
        super().__init__(conn)
        self._later = list(begin)
        self._begin_length = len(begin)
        self._head: tuple[int, str] | None = _UNREAD

    def chain_head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the chain's newest entry in this transaction; None: empty chain."""
        if self._head == _UNREAD:
            self.execute_all(())
        return self._head

    def advance_chain_head(self, seq: int, digest: str) -> None:
        """Record that this transaction appended the entry ``seq`` with hash ``digest``."""
        self._head = (seq, digest)

    def commit(self) -> None:
        """COMMIT with whatever is queued; a body that ran no statement has sent nothing."""
        if self._head == _UNREAD and len(self._later) == self._begin_length:
            return
        super().commit()

    def _reads(self) -> list[Statement]:
        return [_HEAD] if self._head == _UNREAD else []

    def _read(self, results: list[PgResult]) -> None:
        if results:
            row = results[0].fetchone()
            self._head = None if row is None else (int(row[0]), str(row[1]))
