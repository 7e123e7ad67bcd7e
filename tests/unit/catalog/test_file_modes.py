"""The dataset store (every row of every dataset) is created 0700, its files 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from zone.catalog import DatasetMeta, import_dataset

CSV = """\
uscc,district,employees,capital,listed,founded
A1,east,10,1.5,true,2020-01-01
"""


def test_import_creates_a_private_store_under_a_permissive_umask(
    tmp_path: Path, write: Callable[[str, str], Path], small_meta: DatasetMeta
) -> None:
    db = tmp_path / "var" / "datasets.duckdb"
    previous = os.umask(0o022)
    try:
        import_dataset(db, write("firms.csv", CSV), "firms", small_meta)
        assert os.umask(0o022) == 0o022  # the import left the process umask as it was
    finally:
        os.umask(previous)
    files = [p for p in db.rglob("*") if p.is_file()]
    folders = [db.parent, db, *(p for p in db.rglob("*") if p.is_dir())]
    assert db / "catalog.json" in files and any(p.suffix == ".duckdb" for p in files)
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}
