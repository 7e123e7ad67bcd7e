"""Helpers for the statistics product tests: real DuckDB tables, toy metadata and products."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from zone.catalog import DatasetMeta, StatisticsProduct, table_name

ROOT = Path(__file__).resolve().parents[3]


ENTERPRISE_ROWS = 20_000
ENTERPRISE_SEED = 7


@dataclass(frozen=True)
class Dataset:
    """A dataset as the zone serves it: metadata, product, an open cursor and the frame."""

    meta: DatasetMeta
    product: StatisticsProduct
    con: duckdb.DuckDBPyConnection
    table: str
    frame: pd.DataFrame


def load_table(db_path: Path, name: str, frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """Write ``frame`` as the dataset table of ``name`` and reopen the file read-only."""
    with duckdb.connect(str(db_path)) as con:
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {table_name(name)} AS SELECT * FROM frame")
        con.unregister("frame")
    return duckdb.connect(str(db_path), read_only=True, config={"enable_external_access": False})


TOY_META: dict[str, Any] = {
    "description": "Toy registry",
    "provider": "Tests",
    "entity_key": "id",
    "columns": {
        "id": {"type": "string", "level": "L3"},
        "city": {"type": "string", "level": "L1"},
        "region": {"type": "string", "level": "L1", "domain": ["north", "south", "east"]},
        "x": {"type": "float", "level": "L2", "bounds": [-10, 10], "granularity": 0.01},
        "n": {"type": "integer", "level": "L2", "bounds": [0, 100]},
        "day": {"type": "date", "level": "L1", "domain": ["2024-01-01", "2024-01-02"]},
        "flag": {"type": "boolean", "level": "L1"},
        "secret": {"type": "string", "level": "L4"},
    },
}
TOY_COLUMNS = ["city", "region", "x", "n", "day", "flag"]


def toy_product(**overrides: Any) -> StatisticsProduct:
    spec: dict[str, Any] = {
        "id": "toy-stats",
        "kind": "statistics",
        "dataset": "toy",
        "description": "Toy statistics",
        "columns": TOY_COLUMNS,
        "group_by": ["city", "region", "day", "flag"],
        "measures": ["count", "sum", "mean", "histogram", "quantile"],
        "max_epsilon_per_query": 2.0,
        "key_selection": True,
    }
    spec.update(overrides)
    return StatisticsProduct.model_validate(
        {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
    )


def toy_frame() -> pd.DataFrame:
    """600 rows in city A, 300 in B, 1 in C; region 'west' (outside the domain) appears."""
    cities = ["A"] * 600 + ["B"] * 300 + ["C"]
    n = len(cities)
    regions = ["north", "south", "west"]
    x: list[float | None] = [((i * 37) % 2500) / 100 - 12.5 for i in range(n)]
    x[5] = None
    return pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(n)],
            "city": cities,
            "region": [regions[i % 3] for i in range(n)],
            "x": pd.array(x, dtype="Float64"),
            "n": [i % 150 for i in range(n)],
            "day": [datetime.date(2024, 1, 1 + i % 3) for i in range(n)],
            "flag": [i % 4 == 0 for i in range(n)],
            "secret": ["s"] * n,
        }
    )
