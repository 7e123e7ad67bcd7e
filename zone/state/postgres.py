"""The PostgreSQL state backend: the zone's state shared by several ``zone serve`` replicas.

Same contract as the SQLite store (``zone.state.api``; ``tests/contract/``), other means:

* ``write(durable)`` is one READ COMMITTED transaction on a pooled connection. Every
  admission in it is one conditional statement whose row count decides, exact under
  concurrent writers without SERIALIZABLE. Write transactions of all replicas take one
  transaction-scoped advisory lock first (``WRITE_LOCK``), for the audit chain: almost every
  write appends to it, reading its head and extending it inside the transaction, so the
  head is a lock held to the commit. Taken first, it is the only lock any writer waits for
  while holding another, so no two writers can deadlock (taken at the first append instead,
  it would be acquired after budget, quota or job rows in some transactions and before them
  in others). Taken first, it also orders what admissions read: the per-subject windows'
  catch-up and the exit check see every write committed before theirs. Measured on 2 cores
  with 8 writers, fsync off: as fast as taking it at the append, within noise (795 vs 813
  reservations/s on one budget row). Since the lock is held for the whole transaction, the
  transaction saves round trips (``zone.state.pgtx``): BEGIN, the lock and a read of the
  chain's head go out with its first statement, and INSERTs nobody reads ride on the next
  round trip or the COMMIT (a ledger reservation: 2 round trips instead of 7).
  ``durable=False`` commits with ``synchronous_commit = off``: a crash of the database
  server may lose the newest such commits; a crash of the zone loses none.
* ``read()`` is one REPEATABLE READ, READ ONLY transaction: every statement in it sees the
  snapshot taken by its first one. Nested ``read()`` calls on one thread share it.
* ``write()`` is not reentrant on one thread (as on SQLite): pass its ``Tx`` down instead.

Placeholders (``?``, ``:name``) are translated (``zone.state.sqltext``); integral NUMERIC
values (PostgreSQL's ``SUM`` of BIGINT) load as ``int``, as SQLite returns them.

A lost connection, a server shutting down, a deadlock or a lock timeout is reported as
``Unavailable`` (retry later), never as an internal error; the pool replaces broken
connections.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal

import psycopg
from psycopg.adapt import Buffer, Loader
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from zone.errors import FailedPrecondition, InvalidArgument, Unavailable
from zone.state.api import Statement, Tx
from zone.state.location import PoolOptions, redacted
from zone.state.owners import SUSPECT_ROUNDS, Suspicion, release_owners, take_dead_owners
from zone.state.pgnotify import PgListener
from zone.state.pgschema import migrate_postgres
from zone.state.pgtx import Connection, PgTx, PgWriteTx
from zone.state.presence import Presence

WRITE_LOCK = 0x7A6F6E65_77726974  # "zonewrit": the advisory lock every write transaction takes

_BEGIN_WRITE: tuple[Statement, ...] = (
    ("BEGIN ISOLATION LEVEL READ COMMITTED", ()),
    ("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,)),
)
_NOT_DURABLE: Statement = ("SET LOCAL synchronous_commit TO OFF", ())
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


class _IntegralNumeric(Loader):
    """NUMERIC as SQLite returns it: ``int`` when integral, else ``float``."""

    def load(self, data: Buffer) -> int | float:
        value = Decimal(bytes(data).decode("ascii"))
        return int(value) if value == value.to_integral_value() else float(value)


def _configure(conn: Connection) -> None:
    conn.adapters.register_loader("numeric", _IntegralNumeric)


class PostgresState:
    """A connection pool on one PostgreSQL database holding the zone's state."""

    def __init__(
        self, pool: ConnectionPool[Connection], *, name: str, url: str = "", replica: str = ""
    ) -> None:
        self._pool = pool
        self.replica = replica
        """This process's id on the rows it leaves open (the ``zone.replica`` setting)."""
        self._name = name
        self._url = url
        self._local = threading.local()
        self._closed = False
        self._presence: Presence | None = None
        self.suspicion = Suspicion(grace=0.0)
        """How long an owner's lock must stay free before it is settled (set by ``open``)."""

    @classmethod
    def open(
        cls, url: str, options: PoolOptions | None = None, *, migrate: bool = True
    ) -> PostgresState:
        """Connect to the database at ``url`` and migrate it unless ``migrate=False``.

        Args:
            url: A libpq URL, ``postgresql://user@host:port/database``.
            options: Pool size and timeouts (defaults: ``PoolOptions()``).
            migrate: Apply missing migrations (``zone db migrate`` does it separately).

        Returns:
            The open state.

        Raises:
            Unavailable: the database cannot be reached in time.
            FailedPrecondition: the database was written by a newer zone.
        """
        opts = options or PoolOptions()
        replica = uuid.uuid4().hex[:16]
        server_options = (
            f"-c lock_timeout={int(opts.lock_timeout_seconds * 1000)} "
            f"-c idle_in_transaction_session_timeout={int(opts.idle_in_transaction_seconds * 1000)}"
            f" -c zone.replica={replica}"
        )
        pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=opts.min_connections,
            max_size=opts.max_connections,
            timeout=opts.timeout_seconds,
            kwargs={"autocommit": True, "application_name": "zone", "options": server_options},
            configure=_configure,
            open=False,
            name="zone-state",
        )
        try:
            pool.open(wait=True, timeout=opts.timeout_seconds)
            if migrate:
                with pool.connection() as conn:
                    migrate_postgres(conn)
        except BaseException as exc:
            pool.close()
            if isinstance(exc, PoolTimeout | psycopg.OperationalError):
                raise Unavailable(f"the state database {redacted(url)} cannot be reached") from exc
            raise
        state = cls(pool, name=redacted(url), url=url, replica=replica)
        state.suspicion = Suspicion(grace=SUSPECT_ROUNDS * opts.orphan_sweep_seconds)
        return state

    @property
    def name(self) -> str:
        """The database URL without its password (for logs)."""
        return self._name

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Tx]:
        """Run the body in one READ COMMITTED transaction; commit when it returns.

        Rolls back and re-raises when the body raises. ``durable=False`` commits with
        ``synchronous_commit = off`` (see the module docstring).

        Raises:
            RuntimeError: called again by a thread already inside ``write()``.
            Unavailable: the database is unreachable, or the transaction was chosen as a
                deadlock victim (nothing was written).
            FailedPrecondition: the state is closed.
        """
        if getattr(self._local, "writing", False):
            raise RuntimeError("PostgresState.write() is not reentrant; pass its Tx down")
        self._local.writing = True
        try:
            begin = _BEGIN_WRITE if durable else (*_BEGIN_WRITE, _NOT_DURABLE)
            with self._transaction(begin) as tx:
                yield tx
        finally:
            self._local.writing = False

    def writing(self) -> bool:
        """Whether the calling thread is inside ``write()``."""
        return bool(getattr(self._local, "writing", False))

    @contextmanager
    def joined(self, tx: Tx | None) -> Iterator[Tx]:
        """Join the caller's open write transaction ``tx``, or run a durable one of our own.

        Raises:
            RuntimeError: ``tx`` is not inside an open ``write()`` transaction.
        """
        if tx is not None:
            if not tx.in_transaction:
                raise RuntimeError("joined(tx) needs the Tx of an open write()")
            yield tx
            return
        with self.write() as own:
            yield own

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Run the body in one snapshot (REPEATABLE READ, READ ONLY); nested calls share it.

        Raises:
            Unavailable: the database is unreachable.
            FailedPrecondition: the state is closed.
        """
        current: PgTx | None = getattr(self._local, "reader", None)
        if current is not None:
            yield current
            return
        with self._transaction(_BEGIN_READ) as tx:
            self._local.reader = tx
            try:
                yield tx
            finally:
                self._local.reader = None

    @contextmanager
    def startup(self) -> Iterator[bool]:
        """Join the replicas; yield whether this one is alone (see ``State.startup``).

        Every serving replica holds ``REPLICA_LOCK`` shared on a session of its own (its
        presence session, ``zone.state.presence``), which PostgreSQL releases when the replica
        dies (its connection drops). A replica that can take the lock exclusively is alone; it
        keeps it exclusive while the body settles what dead replicas left open, so that no
        other replica starts serving meanwhile, then holds it shared like the others.

        Raises:
            Unavailable: the database cannot be reached.
        """
        if self._presence is not None:
            raise RuntimeError("startup() was called already")
        presence = Presence(self._url, self.replica)
        try:
            alone = presence.join()
        except psycopg.OperationalError as exc:
            raise Unavailable("the state database cannot be reached") from exc
        self._presence = presence
        try:
            yield alone
        finally:
            presence.serve(exclusive=alone)

    def hold_place(self) -> bool:
        """Whether this replica holds its place; take it back if its session was lost.

        See ``zone.state.presence``: while this is False, write transactions are refused.
        """
        return True if self._presence is None else self._presence.check()

    def announce(self, tx: Tx, channel: str) -> None:
        """NOTIFY ``channel`` inside ``tx`` (PostgreSQL delivers it at commit)."""
        tx.execute("SELECT pg_notify(?, '')", (channel,))

    def listen(self, channel: str) -> PgListener:
        """A connection of its own that LISTENs on ``channel`` (see ``zone.state.pgnotify``)."""
        return PgListener(self._url, channel)

    @contextmanager
    def orphaned(self) -> Iterator[list[str]]:
        """The replicas that died leaving charges or jobs open, held until the body ends.

        An owner of open rows whose lock (``zone.state.owners``) this replica could take at
        sweeps ``SUSPECT_ROUNDS`` intervals apart is dead (or was never joined); while this
        replica holds the lock no other one settles the same owner's work.

        Raises:
            Unavailable: the database cannot be reached.
        """
        presence = None if self._presence is None else self._presence.connection
        if presence is None:  # not serving, or fenced: this replica settles nobody's work
            yield []
            return
        try:
            dead = take_dead_owners(presence, self.replica)
        except psycopg.OperationalError as exc:
            raise Unavailable("the state database cannot be reached") from exc
        due = self.suspicion.due(dead)
        release_owners(presence, [owner for owner in dead if owner not in due])
        try:
            yield due
        finally:
            release_owners(presence, due)

    def close(self) -> None:
        """Close every connection of the pool, and leave the replicas. Idempotent."""
        if getattr(self._local, "writing", False):
            raise RuntimeError("PostgresState.close() called inside write()")
        self._closed = True
        self._pool.close()
        if self._presence is not None:
            self._presence.close()

    def __enter__(self) -> PostgresState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, begin: str | Sequence[Statement]) -> Iterator[PgTx]:
        """One transaction: ``begin`` is a read's BEGIN, or a write's statements to queue.

        A write's BEGIN and lock go out with its first statement (``zone.state.pgtx``).
        """
        if self._closed:
            raise FailedPrecondition("the state store is closed")
        if begin is not _BEGIN_READ and self._presence is not None and not self._presence.retry():
            raise Unavailable("this replica lost its place in the state database; retry")
        try:
            with self._pool.connection() as conn:
                if isinstance(begin, str):
                    conn.execute(begin.encode("ascii"))
                    tx = PgTx(conn)
                else:
                    tx = PgWriteTx(conn, begin)
                try:
                    yield tx
                    tx.commit()
                except BaseException:
                    _roll_back(conn)
                    raise
                finally:
                    tx.end()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise Unavailable("the state database is unavailable; retry later") from exc
        except psycopg.DataError as exc:
            raise InvalidArgument(
                "a value cannot be stored (e.g. it holds a NUL character)"
            ) from exc


def _roll_back(conn: Connection) -> None:
    """Roll back an open transaction; a broken connection is left for the pool to discard."""
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        pass
