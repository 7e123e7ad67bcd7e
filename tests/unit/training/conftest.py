"""Fixtures for the training tests: real DuckDB files built from the demo generator and a toy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2] / "examples")]

import generate_enterprises  # noqa: E402
from trainkit import ROOT, TOY_META, Table, toy_frame, write_table  # noqa: E402

from zone.catalog import DatasetMeta, TrainingProduct, load_metadata, load_products  # noqa: E402

ENTERPRISE_ROWS = 5_000


@pytest.fixture(scope="session")
def enterprise_meta() -> DatasetMeta:
    return load_metadata(ROOT / "examples" / "enterprises.meta.yaml")


@pytest.fixture(scope="session")
def enterprise_product(enterprise_meta: DatasetMeta) -> TrainingProduct:
    product = load_products(ROOT / "models", {"enterprises": enterprise_meta})
    lr = product["enterprise-default-lr"]
    assert isinstance(lr, TrainingProduct)
    return lr


@pytest.fixture(scope="session")
def enterprises(tmp_path_factory: pytest.TempPathFactory, enterprise_meta: DatasetMeta) -> Table:
    frame = generate_enterprises.generate(ENTERPRISE_ROWS, 11)
    db = write_table(tmp_path_factory.mktemp("ent") / "zone.duckdb", "enterprises", frame)
    return Table(db, enterprise_meta, frame)


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Table:
    frame = toy_frame(6_000, 5)
    db = write_table(tmp_path_factory.mktemp("toy") / "zone.duckdb", "toy", frame)
    return Table(db, DatasetMeta.model_validate(TOY_META), frame)
