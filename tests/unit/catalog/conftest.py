from __future__ import annotations

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

Snapshot = tuple[list[Any], list[Any], list[Any]]


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
    """Tables, catalog rows and the data of every dataset table, read from the file."""

    def take(db_path: Path) -> Snapshot:
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            tables = con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY 1"
            ).fetchall()
            catalog = con.execute("SELECT * FROM _zone_datasets ORDER BY name").fetchall()
            rows = [
                con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
                for (name,) in tables
                if name.startswith("ds_")
            ]
        finally:
            con.close()
        return tables, catalog, rows

    return take
