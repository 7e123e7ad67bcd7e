"""Durable commits share fsyncs of the log, and none returns before one that covers it."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from zone.state import StateStore

THREADS = 8
WRITES = 30


def test_concurrent_durable_writes_share_fsyncs_and_each_waits_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zone.db"
    real_fsync = os.fdatasync
    lock = threading.Lock()
    began: list[frozenset[int]] = []  # rows committed when each fsync of the log began
    ended = [0]  # fsyncs ended so far
    acked: dict[int, int] = {}  # row -> fsyncs ended when its write() returned

    with StateStore.open(path) as store:
        with store.write() as conn:
            conn.execute("CREATE TABLE scratch (n INTEGER PRIMARY KEY)")
        watcher = sqlite3.connect(path, check_same_thread=False)

        def fsync(fd: int) -> None:  # the OS boundary: see what the fsync covers, then do it
            with lock:
                began.append(frozenset(n for (n,) in watcher.execute("SELECT n FROM scratch")))
            real_fsync(fd)
            with lock:
                ended[0] += 1

        monkeypatch.setattr(os, "fdatasync", fsync)

        def worker(t: int) -> None:
            for i in range(WRITES):
                row = t * WRITES + i
                with store.write() as conn:
                    conn.execute("INSERT INTO scratch VALUES (?)", (row,))
                with lock:
                    acked[row] = ended[0]

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        watcher.close()

    assert sorted(acked) == list(range(THREADS * WRITES))
    assert 0 < len(began) < THREADS * WRITES, "every durable commit paid its own fsync"
    for row, fsyncs_ended in acked.items():
        # An fsync that began after the row was committed had ended before write() returned.
        assert any(row in seen for seen in began[:fsyncs_ended]), row
