"""Group fsync for the SQLite state database: durable commits share the log's fsyncs.

With ``synchronous=FULL`` SQLite fsyncs the write-ahead log inside every commit, while the
committing thread holds the database's write lock: concurrent durable transactions (a
statistics call's reservation and release, another's receipt) each wait for their own fsync,
and every other writer, the calls' ``rpc`` audit records included, waits behind it.

``StateStore.write(durable=True)`` instead commits with ``synchronous=NORMAL`` (the log is
written, not yet synced), takes a ticket while it still holds the write lock, releases the
lock, and then waits here until an fsync of the log that began after its commit has ended.
One fsync covers every commit written to the log before it began, so the first waiter syncs
for all who committed before it (and writers go on committing meanwhile): one fsync per
batch of durable commits instead of one per commit.

Why it is FULL's durability: in WAL mode FULL differs from NORMAL only by fsyncing the log
after each commit (NORMAL already syncs the log before each checkpoint, and its header when
the log starts over); fsyncing the same file (an fsync covers the file, whichever descriptor
names it) before the commit is reported gives the same guarantee. A durable ``write()``
still returns only after its transaction is on stable storage. What changes is visibility:
other connections can read the transaction before its fsync ends, as they may read any
``durable=False`` commit; whatever they commit after it lies later in the log, so an OS
crash that loses it loses them too (the log is replayed as a prefix, its frames checksummed
in a chain).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class WalSync:
    """Tickets for durable commits of one store, and the fsyncs that make them durable."""

    def __init__(self, db_path: Path) -> None:
        self._wal = Path(f"{db_path}-wal")
        self._committed = 0  # tickets handed out (under the store's write lock)
        self._synced = 0  # every ticket up to this one is on stable storage
        self._sync_lock = threading.Lock()

    def ticket(self) -> int:
        """Number a durable commit that just ended; call it holding the store's write lock."""
        self._committed += 1
        return self._committed

    def wait(self, ticket: int) -> None:
        """Return once the commit numbered ``ticket`` is on stable storage.

        Raises:
            OSError: The log could not be synced (its commit may not be durable).
        """
        if self._synced >= ticket:
            return
        with self._sync_lock:
            if self._synced >= ticket:
                return  # the fsync we waited for covered us
            covered = self._committed  # every commit numbered so far is in the log already
            fd = os.open(self._wal, os.O_RDONLY)
            try:
                os.fdatasync(fd)  # as SQLite syncs its log
            finally:
                os.close(fd)
            self._synced = max(self._synced, covered)
