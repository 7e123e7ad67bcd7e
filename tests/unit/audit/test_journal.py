"""The ``rpc`` journal: framing, torn tails, exactly-once replay across kill -9, rotation, prefix.

Crashes are real: a child process writes to a real journal and a real SQLite state and SIGKILLs
itself at the point under test; the parent then opens the journal as a server start does and
checks that every record the child wrote is in the chain exactly once, and the chain verifies.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from zone.audit import AuditChain, verify_file
from zone.audit.chain import _append_many
from zone.audit.journal import (
    Drainer,
    Journal,
    encode_frame,
    journal_folder,
    read_frames,
    undrained,
)
from zone.errors import FailedPrecondition, Unavailable
from zone.state.db import StateStore

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from zone.audit.chain import _append_many, _encode_record
    from zone.audit.journal import Journal, encode_frame, journal_folder
    from zone.state.db import StateStore

    db, point, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = StateStore.open(db)
    journal = Journal.open(store, journal_folder(db), _append_many, segment_bytes=4096)

    def write(i):
        record_json, record = _encode_record("rpc", {"request_id": f"r{i}"})
        assert journal.write("rpc", record_json, record)

    def drain(commit=True):
        with store.write(durable=False) as tx:
            drained = journal.drain_into(tx, _append_many)
            if not commit:
                os.kill(os.getpid(), signal.SIGKILL)
        return drained

    half = n // 2
    for i in range(half):
        write(i)
    if point == "half-drained":
        journal.committed(drain()[0])
    for i in range(half, n):
        write(i)
    if point == "in-transaction":
        drain(commit=False)
    elif point == "committed":
        drain()  # committed, but the journal is not told: its segments stay
    elif point == "torn":  # a copy cut short by the kill: half a frame after the last one
        frame = encode_frame("rpc", '{"request_id":"torn"}')
        journal._map[journal._pos : journal._pos + len(frame) // 2] = frame[: len(frame) // 2]
    elif point == "rotating":  # the next segment created, nothing written to it yet
        with journal._lock:
            journal._rotate()
    elif point == "durable":  # a durable append drains the journal into its own transaction
        from zone.audit import AuditChain
        chain = AuditChain(store)
        chain._journal = journal
        with store.write() as tx:
            chain.append("release", {"n": n}, conn=tx)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)
POINTS = {  # the kill's point: records left undrained (of 60)
    "written": 60,
    "half-drained": 30,
    "in-transaction": 60,
    "committed": 0,
    "torn": 60,
    "rotating": 60,
    "durable": 0,
}


def _rpc_ids(db: Path) -> Counter[str]:
    with StateStore.open(db) as store, store.read() as conn:
        rows = conn.execute("SELECT record FROM audit_log WHERE kind = 'rpc'").fetchall()
    return Counter(json.loads(row[0])["request_id"] for row in rows)


def _crash(db: Path, point: str, n: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), point, str(n)], capture_output=True, timeout=120
    )
    assert done.returncode == -9, done.stderr.decode()


def _recover(db: Path) -> None:
    """What a server start does: open the journal (replaying), then close it."""
    with StateStore.open(db) as store:
        Journal.open(store, journal_folder(db), _append_many).close()


def test_frames_round_trip_and_any_cut_or_flip_ends_the_read() -> None:
    frames = [encode_frame("rpc", json.dumps({"i": i, "text": "é" * i})) for i in range(5)]
    data = b"".join(frames) + bytes(64)
    found = list(read_frames(data))
    assert [json.loads(r)["i"] for _, _, r in found] == list(range(5))
    assert found[-1][0] == sum(map(len, frames))
    whole = b"".join(frames[:4])
    for cut in range(1, len(frames[4])):  # the last frame torn at every byte
        torn = whole + frames[4][:cut] + bytes(64)
        assert len(list(read_frames(torn))) == 4
    for bit in range(len(frames[4]) * 8):  # or any one bit of it flipped
        flipped = bytearray(b"".join(frames))
        flipped[len(whole) + bit // 8] ^= 1 << (bit % 8)
        assert len(list(read_frames(bytes(flipped)))) == 4


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_any_point_then_replay_appends_every_record_exactly_once(
    tmp_path: Path, point: str
) -> None:
    db, n = tmp_path / "state.sqlite", 60  # 4 KiB segments: about 6 rotations
    _crash(db, point, n)
    with StateStore.open(db) as store, store.read() as conn:  # what `zone audit verify` notes
        assert undrained(conn, journal_folder(db)) == POINTS[point]
    if point == "durable":  # made durable by the release's own commit, before any replay
        assert _rpc_ids(db) == Counter(f"r{i}" for i in range(n))
    _recover(db)
    _recover(db)  # a second start finds nothing more to replay
    assert _rpc_ids(db) == Counter(f"r{i}" for i in range(n))
    assert verify_file(db).ok
    assert not list(journal_folder(db).glob("serve.0*"))


def test_durable_appends_drain_the_journal_first(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        chain = AuditChain(store)
        chain.open_journal(tmp_path / "journal", linger=3600)  # the drainer never gets there
        try:
            for i in range(3):
                chain.append_journaled("rpc", {"request_id": f"a{i}"})
            with store.write() as tx:
                release = chain.append("release", {"n": 1}, conn=tx)
            chain.append_journaled("rpc", {"request_id": "b"})
            started = chain.append("server.start", {})  # group-committed
            chain.flush()
            chain.flush()
            kinds = [(e.kind, e.record.get("request_id")) for e in chain.entries()]
        finally:
            chain.close()
    assert kinds == [
        *(("rpc", f"a{i}") for i in range(3)),
        ("release", None),
        ("rpc", "b"),
        ("server.start", None),
    ]
    assert release.seq == 4 and started.seq == 6


def test_flush_under_concurrent_writers_stores_each_record_once(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with StateStore.open(db) as store:
        chain = AuditChain(store)
        chain.open_journal(journal_folder(db), linger=0.001)

        def call(t: int) -> None:
            for i in range(150):
                chain.append_journaled("rpc", {"request_id": f"{t}-{i}"})
                if i % 50 == 0:
                    chain.flush()

        threads = [threading.Thread(target=call, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        chain.flush()
        with store.read() as conn:
            flushed = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        chain.close()
    assert flushed == 600
    assert _rpc_ids(db) == Counter(f"{t}-{i}" for t in range(4) for i in range(150))
    assert verify_file(db).ok


def test_a_journal_serves_one_process(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        first = Journal.open(store, tmp_path / "j", _append_many)
        with pytest.raises(FailedPrecondition, match="another process"):
            Journal.open(store, tmp_path / "j", _append_many)
        first.close()
        Journal.open(store, tmp_path / "j", _append_many).close()


def test_a_full_journal_refuses_the_record_and_loses_none(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    with StateStore.open(db) as store:
        journal = Journal.open(
            store, journal_folder(db), _append_many, segment_bytes=4096, max_segments=2
        )
        written = 0
        with pytest.raises(Unavailable, match="journal is full"):
            while True:  # nobody drains: a stuck drainer
                journal.write("rpc", json.dumps({"request_id": f"r{written}"}), {})
                written += 1
        assert 100 < written < 400  # two segments of 4 KiB
        journal.close()  # undrained: the segments stay for the next start
    _recover(db)
    assert _rpc_ids(db) == Counter(f"r{i}" for i in range(written))


_DISK_FULL_CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from pathlib import Path
    from zone.audit.chain import _append_many, _encode_record
    from zone.audit.journal import Journal, journal_folder
    from zone.errors import Unavailable
    from zone.state.db import StateStore

    db = Path(sys.argv[1])
    store = StateStore.open(db)
    journal = Journal.open(store, journal_folder(db), _append_many, segment_bytes=4096)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))  # no file may grow past 2 KiB
    written = 0
    try:
        while True:  # the second segment cannot be allocated: as on a full disk
            journal.write("rpc", *_encode_record("rpc", {"request_id": f"r{written}"}))
            written += 1
    except Unavailable as exc:
        print(json.dumps({"written": written, "error": exc.message}), flush=True)
    journal.close()  # undrained: the first segment stays for the next start
    os._exit(0)  # nothing more may touch the state file under the limit
    """
)


def test_a_disk_that_refuses_a_new_segment_fails_the_record_closed_and_loses_none(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.sqlite"
    StateStore.open(db).close()  # migrated before the child limits file sizes
    done = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_CHILD, str(db)], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    outcome = json.loads(done.stdout)
    assert "cannot allocate an audit journal segment" in outcome["error"]
    assert 50 < outcome["written"] < 200  # what one 4 KiB segment holds
    segments = sorted(p.name for p in journal_folder(db).glob("serve.0*"))
    assert segments == ["serve.000000000001"]  # the one that could not be allocated is gone
    _recover(db)
    assert _rpc_ids(db) == Counter(f"r{i}" for i in range(outcome["written"]))
    assert verify_file(db).ok


def test_a_record_too_large_for_the_journal_is_appended_directly_after_the_pending(
    tmp_path: Path,
) -> None:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        chain = AuditChain(store)
        chain.open_journal(tmp_path / "journal", linger=3600)
        try:
            chain.append_journaled("rpc", {"request_id": "small"})
            chain.append_journaled("rpc", {"request_id": "large", "peer": "x" * (2 << 20)})
            ids = [e.record["request_id"] for e in chain.entries()]
        finally:
            chain.close()
    assert ids == ["small", "large"]


def test_a_failing_drain_is_retried_and_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "state.sqlite"
    with StateStore.open(db) as store:
        chain = AuditChain(store)
        chain.open_journal(journal_folder(db), linger=0.001)
        other = sqlite3.connect(db)
        try:  # the drain's transaction fails: its position table is gone
            other.execute("ALTER TABLE audit_journal RENAME TO audit_journal_away")
            other.commit()
            for i in range(5):
                chain.append_journaled("rpc", {"request_id": f"r{i}"})
            deadline = time.monotonic() + 30
            while "draining the audit journal failed" not in caplog.text:
                assert time.monotonic() < deadline, "the drainer never tried"
                time.sleep(0.01)
            with pytest.raises(sqlite3.OperationalError):
                chain.flush()  # a reader's flush fails alike, and stores nothing
            other.execute("ALTER TABLE audit_journal_away RENAME TO audit_journal")
            other.commit()
        finally:
            other.close()
        chain.flush()
        chain.close()
    assert _rpc_ids(db) == Counter(f"r{i}" for i in range(5))
    assert verify_file(db).ok


def test_a_stop_between_the_linger_and_the_batch_is_not_lost() -> None:
    """``stop()`` landing after the drainer's linger and before it clears its wake-up event.

    The drainer used to clear the event that stop() had just set and then wait on it for
    ever: a graceful stop hung (seen once in a CI run of the concurrent-flush test above).
    The event below lets stop() land exactly there.
    """
    stoppers: list[threading.Thread] = []
    stop_woke = threading.Event()

    class Wake(threading.Event):
        def set(self) -> None:
            super().set()
            if stoppers == [] and threading.current_thread().name == "stopper":
                stop_woke.set()

        def clear(self) -> None:
            if stoppers:  # the first batch: stop() sets the halt and this event, then we clear
                stopper = stoppers.pop()
                stopper.start()
                assert stop_woke.wait(5)
            super().clear()

    drains: list[int] = []
    wake = Wake()
    drainer = Drainer(wake, lambda: drains.append(1), linger=0.001)
    stopper = threading.Thread(target=drainer.stop, name="stopper", daemon=True)
    stoppers.append(stopper)
    wake.set()  # a record is pending
    assert stop_woke.wait(10)
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() hung: the drainer waits on a wake-up it cleared"
    assert drains == [1]  # the batch it had started still ran
