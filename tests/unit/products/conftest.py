"""Fixtures for the statistics product tests: real DuckDB tables in temporary folders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2] / "examples")]

import generate_enterprises  # noqa: E402
from statskit import (  # noqa: E402
    ENTERPRISE_ROWS,
    ENTERPRISE_SEED,
    ROOT,
    TOY_META,
    Dataset,
    load_table,
    toy_frame,
    toy_product,
)

from zone.catalog import (  # noqa: E402
    DatasetMeta,
    StatisticsProduct,
    load_metadata,
    load_products,
    table_name,
)


@pytest.fixture(scope="session")
def enterprises(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    meta = load_metadata(ROOT / "examples" / "enterprises.meta.yaml")
    product = load_products(ROOT / "models", {"enterprises": meta})["enterprise-stats"]
    assert isinstance(product, StatisticsProduct)
    frame = generate_enterprises.generate(ENTERPRISE_ROWS, ENTERPRISE_SEED)
    con = load_table(tmp_path_factory.mktemp("enterprises") / "zone.duckdb", "enterprises", frame)
    yield Dataset(meta, product, con, table_name("enterprises"), frame)
    con.close()


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    meta = DatasetMeta.model_validate(TOY_META)
    frame = toy_frame()
    con = load_table(tmp_path_factory.mktemp("toy") / "zone.duckdb", "toy", frame)
    yield Dataset(meta, toy_product(), con, table_name("toy"), frame)
    con.close()
