"""Files the zone creates are private to the account that runs it: 0600 files in 0700 folders.

The dataset database holds every row; the state database holds budgets, the audit chain and who
checked whom. Neither is for other local users to read, so:

* :func:`private_file` creates a missing file 0600 (and its missing folders 0700) before SQLite
  opens it; SQLite then gives its ``-wal`` and ``-shm`` files the database file's permissions;
* :func:`private_umask` covers files third-party code creates by itself (DuckDB's database and
  its ``.wal``): for its duration, new files are 0600 and new folders 0700;
* the ``zone`` command runs with that umask throughout (``zone.cli``), so every file it writes
  (checkpoints, exports, keys) is private too.

Existing files and folders keep their permissions: a deployment that wants them shared (a
backup group, say) sets that itself (docs/SECURITY.md says what it must still do).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077


def private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 folders (existing ones are left alone)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist (its missing folders 0700)."""
    private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


@contextmanager
def private_umask() -> Iterator[None]:
    """New files are 0600 and new folders 0700 while the body runs (the umask is per process)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)
