"""The zone's files are private: 0600 files in 0700 folders, whoever's umask it runs under."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from zone.files import private_dirs, private_file, private_umask


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """Run as a careless deployment would: umask 000 (new files world-writable by default)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_private_file_creates_0600_in_0700_folders(tmp_path: Path) -> None:
    path = tmp_path / "var" / "zone" / "state.sqlite"
    private_file(path)
    assert path.read_bytes() == b""
    assert mode(path) == 0o600
    assert mode(tmp_path / "var") == mode(tmp_path / "var" / "zone") == 0o700


def test_existing_files_and_folders_keep_their_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    path = shared / "state.sqlite"
    path.write_bytes(b"kept")
    path.chmod(0o640)
    private_file(path)
    assert (mode(shared), mode(path), path.read_bytes()) == (0o750, 0o640, b"kept")


def test_private_umask_covers_files_made_by_other_code_and_is_restored(tmp_path: Path) -> None:
    with private_umask():
        (tmp_path / "made.wal").write_bytes(b"x")
        (tmp_path / "made").mkdir()
    assert mode(tmp_path / "made.wal") == 0o600
    assert mode(tmp_path / "made") == 0o700
    assert os.umask(0) == 0  # restored to what it was


def test_private_dirs_is_idempotent(tmp_path: Path) -> None:
    private_dirs(tmp_path / "a" / "b")
    private_dirs(tmp_path / "a" / "b")
    assert mode(tmp_path / "a" / "b") == 0o700
