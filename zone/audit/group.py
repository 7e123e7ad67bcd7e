"""Group commit for the audit chain: many callers' entries, one write transaction.

Every RPC appends its own ``rpc`` record before its reply leaves. Committed one by one, each
record pays a whole write transaction (the writer lock, ``BEGIN``, the head read, writing the
table's and the indexes' pages to the log, ``COMMIT``); concurrent calls then queue for the
writer lock and the zone's call rate stops growing with its clients. (On a SQLite state the
``rpc`` record now goes through the server's journal instead, ``zone.audit.journal``; group
commit serves PostgreSQL's ``rpc`` records and every other append made outside a transaction.)

:class:`GroupCommitter` commits the entries of concurrent callers together. A caller queues its
entry and then waits for the commit lock; whoever holds the lock (the *leader*) takes every
entry queued so far and appends them, in queue order, in one ``store.write()`` transaction:
one head read (none while the head is the entry this committer wrote last: ``zone.audit.
tail.ChainTail``), multi-row ``INSERT`` statements, one commit (and one fsync when any of
them asked to be durable). A caller whose entry a leader committed finds it done when it
gets the lock and returns at once; one whose entry is still queued becomes the next leader.
With one caller there is no waiting and no other thread: the caller commits its own entry.

What stays true, and is tested (``tests/unit/audit/test_group.py``, ``tests/unit/audit/
test_durability.py``, ``tests/security/test_crash_rpc_records.py``):

* ``append`` returns only after the transaction holding its entry committed (with the
  durability it asked for), so a reply that waits for it never leaves without its record,
  and a crash loses only entries whose callers were not yet answered;
* the chain stays one hash chain in commit order: the head is read inside the transaction,
  after every earlier commit, by whichever process or thread commits next;
* a failed transaction fails every caller in it (none is told its entry is stored); unless
  the database is unavailable, the leader then retries each entry alone, so that one entry a
  backend refuses cannot fail another caller's entry. (A commit whose outcome the database
  never confirmed, e.g. a connection lost during ``COMMIT``, may so store an entry twice:
  two identical records in the chain, never a lost one.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from zone.errors import Unavailable
from zone.state.api import State, Tx

Encoded = tuple[str, str, dict[str, Any]]
"""An entry to append: kind, canonical record JSON, the record as parsed from that JSON."""

Entry = TypeVar("Entry")
"""What the chain returns for a stored entry (``zone.audit.chain.AuditEntry``)."""


class _Ticket(Generic[Entry]):
    """One caller's entry while it waits for a leader (or leads)."""

    __slots__ = ("durable", "encoded", "entry", "error", "done")

    def __init__(self, encoded: Encoded, durable: bool) -> None:
        self.encoded = encoded
        self.durable = durable
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommitter(Generic[Entry]):
    """Appends concurrent callers' entries to the chain in shared write transactions.

    ``append_many(tx, encoded)`` appends a batch inside the transaction ``tx``; ``committed``,
    if given, is told the entries of each transaction after it committed (only then).
    """

    def __init__(
        self,
        store: State,
        append_many: Callable[[Tx, Sequence[Encoded]], list[Entry]],
        committed: Callable[[list[Entry]], None] | None = None,
    ) -> None:
        self._store = store
        self._append_many = append_many
        self._committed = committed
        self._queue: list[_Ticket[Entry]] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def append(self, encoded: Encoded, *, durable: bool) -> Entry:
        """Append one entry; return it once the transaction holding it has committed.

        Args:
            encoded: The entry's kind, canonical record JSON and parsed record.
            durable: Whether the commit must reach stable storage before this returns (the
                batch commits durably when any entry in it asks to).

        Returns:
            The stored entry.

        Raises:
            RuntimeError: The calling thread is inside ``store.write()`` (pass its ``Tx`` to
                ``AuditChain.append(conn=...)`` instead).
            Exception: Whatever the store raised for the transaction holding the entry
                (e.g. ``Unavailable``); the entry was not stored.
        """
        if self._store.writing():
            raise RuntimeError("append() inside store.write(): pass its Tx as conn=...")
        ticket: _Ticket[Entry] = _Ticket(encoded, durable)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._commit_lock:
            if not ticket.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if ticket.error is not None:
            raise ticket.error
        assert ticket.entry is not None  # done without an error: a leader stored it
        return ticket.entry

    def _commit(self, batch: list[_Ticket[Entry]]) -> None:
        """Commit ``batch`` (holding the commit lock); every ticket ends done."""
        try:
            self._commit_together(batch)
        except Unavailable as exc:  # the database is down: no use retrying each entry
            for ticket in batch:
                ticket.error = exc
        except Exception as exc:  # noqa: BLE001 - retried alone: each ticket gets its own error
            if len(batch) == 1:
                batch[0].error = exc
                return
            for ticket in batch:
                try:
                    self._commit_together([ticket])
                except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
                    ticket.error = exc
        except BaseException as exc:  # e.g. KeyboardInterrupt: nobody in the batch is stored
            for ticket in batch:
                ticket.error = ticket.error or exc
            raise
        finally:
            for ticket in batch:
                ticket.done = True

    def _commit_together(self, batch: Sequence[_Ticket[Entry]]) -> None:
        durable = any(ticket.durable for ticket in batch)
        with self._store.write(durable=durable) as tx:
            entries = self._append_many(tx, [ticket.encoded for ticket in batch])
        if self._committed is not None:
            self._committed(entries)
        for ticket, entry in zip(batch, entries, strict=True):
            ticket.entry = entry
