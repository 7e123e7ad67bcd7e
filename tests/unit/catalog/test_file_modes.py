"""The dataset database (every row of every dataset) is created 0600 in a 0700 folder."""

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


def test_import_creates_a_private_database_under_a_permissive_umask(
    tmp_path: Path, write: Callable[[str, str], Path], small_meta: DatasetMeta
) -> None:
    db = tmp_path / "var" / "datasets.duckdb"
    previous = os.umask(0o022)
    try:
        import_dataset(db, write("firms.csv", CSV), "firms", small_meta)
        assert os.umask(0o022) == 0o022  # the import left the process umask as it was
    finally:
        os.umask(previous)
    created = list(db.parent.iterdir())
    assert db in created
    assert {stat.S_IMODE(p.stat().st_mode) for p in created} == {0o600}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
