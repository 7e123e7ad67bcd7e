"""The ``rpc`` journal: each call's audit record in a local file first, drained in batches.

Every call appends an ``rpc`` record before its reply leaves ("no reply without its record").
Committed one by one, each record costs a SQLite statement on the call's path, and each
``sqlite3`` call releases the GIL: on a busy 2-core server the writer then waits to get its
core back (docs/ARCHITECTURE.md, "Where the server's CPU goes"). Here the call instead copies
its record, framed, into a memory-mapped journal segment (``MAP_SHARED`` on a preallocated
file: a ``memcpy`` under a lock, no system call, the GIL held throughout), and one thread
(:class:`Drainer`) appends the pending records to the chain in one write transaction per
batch. What stays true, and why:

* **A process crash loses no acknowledged record.** The copy is complete before the reply
  leaves; the dirty pages of a shared file mapping belong to the kernel's page cache and
  outlive a kill -9 of the process, as a ``synchronous=NORMAL`` WAL commit does. An OS crash
  may lose them, as it may lose a NORMAL commit; any durable commit of this process first
  drains the journal into its own transaction (``AuditChain``), so it makes every earlier
  record durable, as before.
* **Each record is appended exactly once.** The transaction that appends records also sets
  this journal's row of ``audit_journal`` to the position (segment generation, byte offset)
  just past the last of them; every drain reads that row inside its write transaction (under
  the writer lock) and appends only the records after it. Whether a crash falls before or
  after the commit, the row and the appended records agree. The in-memory pointer only
  prunes what the committed row already covers.
* **A torn tail is recognised.** A frame is its body's length, the body's CRC-32, then the
  body (the kind's length, the kind, the canonical record JSON). Segments are preallocated
  with zeros and never reused; reading a segment stops at the first frame whose length is
  zero, out of range, or whose CRC does not match. Copies are serialized by the journal's
  lock, so only the newest frame of a killed process can be torn, and its call was not
  answered.
* **Rotation.** A frame that does not fit in the current segment opens generation + 1
  (preallocated with ``posix_fallocate``, so a full disk fails the call that asks, closed,
  never a later write to the mapping) and later frames go there. A segment is deleted only
  once the committed row names a later generation, i.e. every frame of it is in the chain.
  At start the journal replays every segment from the committed position (later generations
  from offset 0, earlier ones skipped) in one durable transaction that also moves the row,
  then deletes them and writes a fresh generation above both the files and the row. A crash
  anywhere in this leaves either the old row with its segments (replayed again, nothing was
  committed) or the new row (the segments it covers are skipped, deleted or not); a
  half-created segment reads as empty.

One journal per serving process (``name``), in a folder next to the SQLite state file; an
exclusive ``flock`` keeps a second process off it. PostgreSQL keeps its pipelined commit
(docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import fcntl
import json
import logging
import mmap
import os
import re
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from zone.audit.group import Encoded
from zone.errors import FailedPrecondition, Unavailable
from zone.state.api import State, Tx
from zone.state.location import StateLocation

log = logging.getLogger(__name__)

Position = tuple[int, int]
"""A place in a journal: segment generation, byte offset within it."""

Append = Callable[[Tx, Sequence[Encoded]], Sequence[Any]]
"""Appends encoded entries to the chain inside a write transaction."""

SEGMENT_BYTES = 4 << 20
MAX_SEGMENTS = 16
"""Undrained segments allowed on disk (64 MiB): beyond, calls fail closed (a stuck drainer)."""

_FRAME = struct.Struct("<II")  # body length, CRC-32 of the body
_KIND = struct.Struct("<H")  # the kind's length, first in the body
_SEGMENT = re.compile(r"\.(\d{12})\Z")


def journal_folder(state_db: StateLocation) -> Path | None:
    """Where the journals of a SQLite state file live (next to it); None for PostgreSQL."""
    if not isinstance(state_db, Path):
        return None
    return state_db.with_name(state_db.name + ".audit-journal")


def encode_frame(kind: str, record_json: str) -> bytes:
    """One record as it is stored: length, CRC-32, kind length, kind, record JSON."""
    kind_bytes = kind.encode("utf-8")
    body = _KIND.pack(len(kind_bytes)) + kind_bytes + record_json.encode("utf-8")
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def read_frames(data: bytes, start: int = 0) -> Iterator[tuple[int, str, str]]:
    """Yield ``(end offset, kind, record JSON)`` of each whole frame from ``start`` on.

    Stops at the first frame that is empty, runs past the data, fails its CRC or does not
    decode: the end of what was written, or a torn tail.
    """
    pos = start
    while pos + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if length < _KIND.size or end > len(data):
            return
        body = data[pos + _FRAME.size : end]
        if zlib.crc32(body) != crc:
            return
        (kind_length,) = _KIND.unpack_from(body)
        try:
            kind = body[_KIND.size : _KIND.size + kind_length].decode("utf-8")
            record_json = body[_KIND.size + kind_length :].decode("utf-8")
        except UnicodeDecodeError:
            return
        yield end, kind, record_json
        pos = end


def drained_position(tx: Tx, name: str) -> Position:
    """The committed position of journal ``name`` (``(0, 0)``: nothing drained yet)."""
    row = tx.execute(
        "SELECT generation, drained FROM audit_journal WHERE name = ?", (name,)
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _set_position(tx: Tx, name: str, position: Position) -> None:
    tx.execute(
        "INSERT INTO audit_journal AS j (name, generation, drained) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET generation = excluded.generation, "
        "drained = excluded.drained",
        (name, *position),
    )


def _segments(folder: Path, name: str) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob(f"{name}.*"):
        match = _SEGMENT.search(path.name)
        if match is not None and path.name == f"{name}.{match.group(1)}":
            found.append((int(match.group(1)), path))
    return sorted(found)


def undrained(conn: Tx, folder: Path | None) -> int:
    """How many journaled records in ``folder`` the chain ``conn`` reads does not hold yet."""
    names = {p.name.rsplit(".", 1)[0] for p in folder.glob("*.*")} if folder else set()
    count = 0
    for name in names:
        done = drained_position(conn, name)
        for generation, path in _segments(folder or Path(), name):
            if generation >= done[0]:
                start = done[1] if generation == done[0] else 0
                count += sum(1 for _ in read_frames(path.read_bytes(), start))
    return count


def replay(store: State, folder: Path, name: str, append: Append) -> int:
    """Append every record of journal ``name`` not yet in the chain; return the newest generation.

    One durable transaction appends them and moves the committed position past them; then the
    segments are deleted (each is covered by the position, or held nothing whole).

    Raises:
        Whatever the store raises for the transaction (nothing is deleted then).
    """
    segments = _segments(folder, name)
    with store.write() as tx:
        done = drained_position(tx, name)
        todo: list[Encoded] = []
        upto = done
        for generation, path in segments:
            if generation < done[0]:
                continue
            start = done[1] if generation == done[0] else 0
            for end, kind, record_json in read_frames(path.read_bytes(), start):
                todo.append((kind, record_json, json.loads(record_json)))
                upto = (generation, end)
        if todo:
            append(tx, todo)
            _set_position(tx, name, upto)
    if todo:
        log.info("replayed %d audit record(s) from journal %s", len(todo), name)
    for _, path in segments:
        path.unlink(missing_ok=True)
    return max([done[0], *(generation for generation, _ in segments)])


def _create_segment(path: Path, size: int) -> mmap.mmap:
    """A new segment of ``size`` zero bytes, mapped shared; Unavailable if it cannot be made."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unavailable(f"cannot create an audit journal segment: {exc}") from None
    try:
        os.posix_fallocate(fd, 0, size)
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise Unavailable(f"cannot allocate an audit journal segment: {exc}") from None
    finally:
        os.close(fd)


class Journal:
    """One process's ``rpc`` journal: writes on the call path, drains inside write transactions."""

    def __init__(
        self,
        folder: Path,
        name: str,
        lock_fd: int,
        generation: int,
        segment_bytes: int,
        max_segments: int,
    ) -> None:
        self._folder, self._name, self._lock_fd = folder, name, lock_fd
        self._size, self._max_segments = segment_bytes, max_segments
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, int, Encoded]] = deque()
        self._files = [generation]  # generations on disk, oldest first
        self._gen, self._pos = generation, 0
        self._map: mmap.mmap | None = _create_segment(self._path(generation), segment_bytes)
        self.wake = threading.Event()
        """Set when records are pending (the drainer waits on it)."""

    @classmethod
    def open(
        cls,
        store: State,
        folder: Path,
        append: Append,
        *,
        name: str = "serve",
        segment_bytes: int = SEGMENT_BYTES,
        max_segments: int = MAX_SEGMENTS,
    ) -> Journal:
        """Take journal ``name`` in ``folder``, replay what a crash left, start a fresh segment.

        Raises:
            FailedPrecondition: another process holds this journal.
            Unavailable: the first segment cannot be allocated.
        """
        folder.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FailedPrecondition(
                    f"another process holds the audit journal {folder / name}"
                ) from None
            newest = replay(store, folder, name, append)
            return cls(folder, name, lock_fd, newest + 1, segment_bytes, max_segments)
        except BaseException:
            os.close(lock_fd)
            raise

    @property
    def name(self) -> str:
        """The journal's name (its row in ``audit_journal``)."""
        return self._name

    def write(self, kind: str, record_json: str, record: dict[str, Any]) -> bool:
        """Copy one record into the journal; False (nothing written) if it is too large.

        Raises:
            Unavailable: the journal is closed, full (``MAX_SEGMENTS`` undrained), or a new
                segment cannot be allocated (e.g. the disk is full); nothing was written.
        """
        if len(kind) > 255:  # a kind's length is framed in two bytes
            return False
        frame = encode_frame(kind, record_json)
        if len(frame) > self._size // 4:
            return False
        with self._lock:
            if self._map is None:
                raise Unavailable("the audit journal is closed")
            if self._pos + len(frame) > self._size:
                self._rotate()
            end = self._pos + len(frame)
            self._map[self._pos : end] = frame
            self._pos = end
            self._pending.append((self._gen, end, (kind, record_json, record)))
        if not self.wake.is_set():
            self.wake.set()
        return True

    def has_pending(self) -> bool:
        """Whether records may be waiting to be drained."""
        return bool(self._pending)

    def drain_into(self, tx: Tx, append: Append) -> tuple[Position, int] | None:
        """Append the pending records that ``tx`` does not already cover, and move the position.

        ``tx`` must be a write transaction (it holds the writer lock, so the committed
        position it reads cannot move under it). Returns the position ``tx`` commits and how
        many records it appended (pass the position to :meth:`committed` once ``tx``
        committed), or None when nothing was pending.
        """
        with self._lock:
            if not self._pending:
                return None
            batch = list(self._pending)
        done = drained_position(tx, self._name)
        todo = [encoded for generation, end, encoded in batch if (generation, end) > done]
        if not todo:
            return done, 0
        append(tx, todo)
        upto = batch[-1][:2]
        _set_position(tx, self._name, upto)
        return upto, len(todo)

    def committed(self, upto: Position) -> None:
        """A transaction that set the position to ``upto`` committed: forget what it covers."""
        with self._lock:
            while self._pending and self._pending[0][:2] <= upto:
                self._pending.popleft()
            stale = [generation for generation in self._files if generation < upto[0]]
            self._files = [generation for generation in self._files if generation >= upto[0]]
        for generation in stale:
            self._path(generation).unlink(missing_ok=True)

    def close(self) -> None:
        """Unmap the segment and release the journal (idempotent); drained segments are deleted.

        Undrained records stay in their segments for the next start to replay.
        """
        with self._lock:
            if self._map is None:
                return
            self._map.close()
            self._map = None
            drained = not self._pending
        if drained:
            for generation in self._files:
                self._path(generation).unlink(missing_ok=True)
        os.close(self._lock_fd)

    def _rotate(self) -> None:
        """Start generation + 1 (holding the lock); the full segment stays until drained."""
        if len(self._files) >= self._max_segments:
            raise Unavailable("the audit journal is full: its records are not being drained")
        new = _create_segment(self._path(self._gen + 1), self._size)
        assert self._map is not None
        self._map.close()
        self._map, self._gen, self._pos = new, self._gen + 1, 0
        self._files.append(self._gen)

    def _path(self, generation: int) -> Path:
        return self._folder / f"{self._name}.{generation:012d}"


class Drainer:
    """One daemon thread that drains the journal while records are pending.

    ``drain()`` runs one batch (a write transaction); it is called after ``linger`` seconds
    past the first pending record, so a batch gathers the records of that window. A failing
    drain is logged and retried after ``retry`` seconds: the records stay pending (in memory
    and in the journal), none is lost.
    """

    def __init__(
        self, wake: threading.Event, drain: Callable[[], None], linger: float, retry: float = 1.0
    ) -> None:
        self._wake, self._drain = wake, drain
        self._linger, self._retry = linger, retry
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-journal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current batch (the caller drains what is left)."""
        self._halt.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        # Checked before every wait: a stop() that lands between the linger and the clear
        # below has its wake-up cleared, and must not leave this thread waiting for another.
        while not self._halt.is_set():
            self._wake.wait()
            if self._halt.wait(self._linger):
                return
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # noqa: BLE001 - retried: the records stay pending
                log.exception("draining the audit journal failed; retrying")
                self._halt.wait(self._retry)
                self._wake.set()
