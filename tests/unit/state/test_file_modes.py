"""The state database, its WAL and shared-memory files are created 0600 in 0700 folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zone.state import StateStore


def test_state_files_are_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = tmp_path / "var" / "state.sqlite"
        with StateStore.open(path) as store, store.write() as tx:
            tx.execute("CREATE TABLE t (x)")
            files = sorted(p.name for p in path.parent.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        os.umask(previous)
    assert files == ["state.sqlite", "state.sqlite-shm", "state.sqlite-wal"]
    assert set(modes.values()) == {0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
