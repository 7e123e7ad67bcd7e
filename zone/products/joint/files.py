"""Files of the cohort directory: private creation, atomic placement, shredding.

The cohort directory (``joint.cohorts_dir``, mode 0700) holds, per stored upload,
``<upload_id>.parquet`` (mode 0600), and, while an upload is being received or a job reads it,
names starting with ``.`` (``.upload-<id>.csv`` the raw bytes, ``.upload-<id>.parquet`` the file
before it is placed, ``.work-<id>`` DuckDB's spill directories). After a crash anything starting
with ``.`` is leftover and is shredded at start-up.

Shredding overwrites a file's bytes with zeros, fsyncs it, unlinks it and fsyncs the directory.
On a journaling or copy-on-write file system, an SSD, a snapshot or a backup, old blocks may
survive an overwrite: the zone removes every copy *it* can reach (its files, its databases), and
the state and cohort directories belong on encrypted storage whose keys the zone's operator
controls. That is the limit of what erasure can prove in software.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 1 << 20
PARTIAL_PREFIX = "."
SUFFIX = ".parquet"


def ensure_directory(directory: Path) -> Path:
    """Create the cohort directory (0700) if needed; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def create_private(path: Path) -> int:
    """Create ``path`` for writing, exclusively, mode 0600; return the file descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(source: Path, target: Path) -> int:
    """Fsync ``source``, make it 0600, rename it to ``target`` durably; return its size."""
    os.chmod(source, 0o600)
    with source.open("rb+") as handle:
        os.fsync(handle.fileno())
        size = os.fstat(handle.fileno()).st_size
    os.replace(source, target)
    fsync_directory(target.parent)
    return size


def shred(path: Path) -> int:
    """Overwrite ``path`` with zeros, fsync, unlink; return the bytes overwritten (0 if absent)."""
    try:
        handle = path.open("rb+")
    except FileNotFoundError:
        return 0
    with handle:
        size = os.fstat(handle.fileno()).st_size
        zeros = bytes(_BLOCK)
        remaining = size
        while remaining > 0:
            remaining -= handle.write(zeros[: min(_BLOCK, remaining)])
        handle.flush()
        os.fsync(handle.fileno())
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_directory(path.parent)
    return size


def shred_tree(path: Path) -> int:
    """Shred every file under a directory (or a file), then remove it; return the bytes."""
    if not path.exists():
        return 0
    if path.is_file():
        return shred(path)
    total = sum(shred(p) for p in sorted(path.rglob("*")) if p.is_file())
    shutil.rmtree(path, ignore_errors=True)
    return total


@dataclass
class DigestingWriter:
    """Writes to a private file while counting bytes and hashing them (SHA-256)."""

    path: Path
    limit: int

    def __post_init__(self) -> None:
        self._fd = create_private(self.path)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> bool:
        """Append ``data``; False (nothing written) when it would exceed ``limit``."""
        if self.size + len(data) > self.limit:
            return False
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._hash.update(data)
        self.size += len(data)
        return True

    @property
    def hexdigest(self) -> str:
        """The SHA-256 of everything written so far (hex)."""
        return self._hash.hexdigest()

    def close(self) -> None:
        """Fsync and close (idempotent)."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
