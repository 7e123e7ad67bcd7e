from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from zone.catalog import DatasetMeta

SMALL_META: dict[str, Any] = {
    "description": "Registered enterprises",
    "provider": "Market regulation bureau",
    "entity_key": "uscc",
    "columns": {
        "uscc": {"type": "string", "level": "L3", "description": "credit code"},
        "district": {"type": "string", "level": "L1", "domain": ["east", "west"]},
        "employees": {"type": "integer", "level": "L2", "bounds": [0, 10000]},
        "capital": {"type": "float", "level": "L2", "bounds": [0, 1000]},
        "listed": {"type": "boolean", "level": "L1"},
        "founded": {"type": "date", "level": "L1"},
    },
}

GOOD_CSV = """\
uscc,district,employees,capital,listed,founded
A1,east,10,1.5,true,2020-01-01
A2,west,20,2.5,false,2021-06-30
A3,east,,3.0,,
"""

Snapshot = tuple[str, list[str], list[Any]]


@pytest.fixture
def small_meta() -> DatasetMeta:
    return DatasetMeta.model_validate(
        {**SMALL_META, "columns": {k: dict(v) for k, v in SMALL_META["columns"].items()}}
    )


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def write_file(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def snapshot() -> Callable[[Path], Snapshot]:
    """The store's manifest text, its files, and the rows of every active dataset version."""

    def take(store: Path) -> Snapshot:
        manifest = (store / "catalog.json").read_text()
        files = sorted(
            str(p.relative_to(store))
            for p in store.rglob("*")
            if p.is_file() and ".lock" not in p.name
        )
        rows = []
        for name, entry in sorted(json.loads(manifest)["datasets"].items()):
            active = [v for v in entry["versions"] if v["version"] == entry["active"]]
            if not active:
                continue
            con = duckdb.connect(str(store / active[0]["file"]), read_only=True)
            try:
                rows.append(con.execute(f'SELECT * FROM "ds_{name}" ORDER BY ALL').fetchall())
            finally:
                con.close()
        return manifest, files, rows

    return take
