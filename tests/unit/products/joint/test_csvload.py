"""Checking an uploaded cohort CSV: counts and row numbers, never values; the stored file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from zone.catalog._joint import JointTrainingProduct
from zone.errors import ValidationFailed
from zone.products.joint.csvload import load_cohort
from zone.products.joint.schema import CohortSchema, parse_schema

PRODUCT = JointTrainingProduct.model_validate({
    "id": "p", "dataset": "d", "description": "x", "kind": "joint_training", "key": "k",
    "key_format": {"case": "upper", "pattern": "^[A-Z0-9]{2,8}$"},
    "zone_features": ["a"], "families": ["logistic_regression"], "max_epsilon_per_job": 1.0,
    "min_cohort_rows": 100,
})  # fmt: skip


def _schema() -> CohortSchema:
    schema, _ = parse_schema({
        "product": "p", "purpose": "t", "key": "id",
        "label": {"column": "y", "kind": "binary", "classes": ["0", "1"]},
        "features": {"amount": {"type": "float", "bounds": [0, 10]},
                     "kind": {"type": "string", "domain": ["a", "b"]},
                     "flag": {"type": "boolean"}, "n": {"type": "integer", "bounds": [0, 9]}},
    })  # fmt: skip
    assert schema is not None
    return schema


def _rows(n: int = 120) -> list[str]:
    return [f" k{i:04d} ,{i % 2},{i / 10},{'ab'[i % 2]},{'true' if i % 3 else 'f'},{i % 7}"
            for i in range(n)]  # fmt: skip


def _load(tmp_path: Path, lines: list[str], integer_key: bool = False) -> Path:
    raw = tmp_path / "raw.csv"
    raw.write_text("id,y,amount,kind,flag,n\n" + "\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    (tmp_path / "work").mkdir(exist_ok=True)
    load_cohort(raw, out, _schema(), PRODUCT, integer_key=integer_key, work_dir=tmp_path / "work")
    return out


def test_a_valid_cohort_is_stored_normalised_and_numeric(tmp_path: Path) -> None:
    out = _load(tmp_path, _rows())
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{out}')").fetchall()
    assert len(rows) == 120
    assert rows[3] == ("K0003", 1.0, 0.3, 2.0, 0.0, 3.0)  # key upper-cased, b is position 2
    assert rows[1][4] == 1.0 and rows[0][4] == 0.0  # 'true' and 'f'


def test_problems_count_and_locate_without_values(tmp_path: Path) -> None:
    lines = _rows()
    lines[4] = "K0001,1,1,a,true,1"  # K0001 again (after normalisation)
    lines[10] = "k0010,2,1,a,true,1"  # label outside the classes
    lines[11] = "k0011,1,1,zzz-secret,true,1"
    lines[12] = "k0012,1,1,a,true,1.5"
    lines[13] = "k0013,1,,a,true,1"
    lines[14] = "toolongkey99,1,1,a,true,1"
    with pytest.raises(ValidationFailed) as refused:
        _load(tmp_path, lines)
    text = str(refused.value)
    assert "1 row(s) repeat the key of an earlier row (after normalisation) (first in data " \
           "row 5)" in text  # fmt: skip
    assert "label 'y': 1 value(s)" in text and "data row 11" in text
    assert "feature 'kind': 1 value(s)" in text and "feature 'n': 1 value(s)" in text
    assert "feature 'amount': 1 row(s) have no value (first in data row 14)" in text
    assert "key 'id': 1 value(s) are malformed" in text
    assert "secret" not in text and "toolongkey" not in text
    assert not (tmp_path / "out.parquet").exists()


def test_too_few_rows_and_bad_quoting(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="needs at least 100"):
        _load(tmp_path, _rows(99))
    lines = _rows()
    lines[50] = 'k0050,1,"1,a,true,1'
    with pytest.raises(ValidationFailed, match="quot|fields"):
        _load(tmp_path, lines)


def test_integer_keys_join_on_their_decimal_text(tmp_path: Path) -> None:
    lines = [f"{'+' if i == 5 else ''}00{i},1,1,a,true,1" for i in range(120)]
    product = PRODUCT.model_copy(update={"key_format": PRODUCT.key_format.model_copy(
        update={"pattern": None})})  # fmt: skip
    raw = tmp_path / "raw.csv"
    raw.write_text("id,y,amount,kind,flag,n\n" + "\n".join(lines) + "\n")
    (tmp_path / "w").mkdir()
    load_cohort(raw, tmp_path / "o.parquet", _schema(), product, integer_key=True,
                work_dir=tmp_path / "w")  # fmt: skip
    keys = [r[0] for r in duckdb.sql(f"SELECT k FROM '{tmp_path / 'o.parquet'}'").fetchall()]
    assert keys[:6] == ["0", "1", "2", "3", "4", "5"]
