"""Background checkpoints keep the write-ahead log bounded and commits free of checkpoints."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from zone.audit import AuditChain, verify_file
from zone.state import StateStore


def _frames_in_log(store: StateStore) -> int:
    """Frames in the log now (the checkpoint this runs copies them; it does not restart it)."""
    busy, frames, _ = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    return int(frames)


def _write_for(chain: AuditChain, seconds: float) -> None:
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            chain.append("rpc", {"padding": "x" * 2000}, durable=False)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()


def test_the_checkpoint_thread_lets_the_log_start_over_under_steady_writes(
    db_path: Path,
) -> None:
    control_path = db_path.with_name("control.db")
    with StateStore.open(control_path) as control:
        control.conn.execute("PRAGMA wal_autocheckpoint=0")  # neither SQLite's nor ours
        _write_for(AuditChain(control), 0.5)
        AuditChain(control).append("rpc", {})
        assert _frames_in_log(control) > 500  # the log holds every commit

    with StateStore.open(db_path, checkpoint_every=0.05) as store:
        chain = AuditChain(store)
        _write_for(chain, 1.0)
        time.sleep(0.3)  # a checkpoint ran after the last write
        chain.append("rpc", {})  # starts the log over: it holds this commit alone
        assert _frames_in_log(store) <= 10
        length = chain.head()[0]
    result = verify_file(db_path)
    assert result.ok and result.length == length


def test_automatic_checkpoints_are_off_only_with_a_checkpointer(db_path: Path) -> None:
    with StateStore.open(db_path) as plain:
        assert plain.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    with StateStore.open(db_path, checkpoint_every=10) as serving:
        assert serving.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


def test_close_stops_the_checkpoint_thread(db_path: Path) -> None:
    store = StateStore.open(db_path, checkpoint_every=0.01)
    AuditChain(store).append("rpc", {})
    time.sleep(0.05)
    store.close()
    assert not [t for t in threading.enumerate() if t.name == "zone-checkpoint"]
    assert verify_file(db_path).length == 1
