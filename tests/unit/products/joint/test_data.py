"""The joined training table: whole cohort, zone part joined or missing, public scaling."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from zone.catalog import DatasetMeta, JointTrainingProduct
from zone.products.joint import data
from zone.products.joint.csvload import load_cohort
from zone.products.joint.plan import JointRequest, JointSpec, plan_joint
from zone.products.joint.schema import parse_schema
from zone.products.joint.store import CohortInfo

META = DatasetMeta.model_validate({
    "description": "toy", "provider": "tests", "entity_key": "code",
    "columns": {"code": {"type": "string", "level": "L3"},
                "size": {"type": "float", "level": "L2", "bounds": [0, 100]},
                "kind": {"type": "string", "level": "L1", "domain": ["a", "b"]}},
})  # fmt: skip
PRODUCT = JointTrainingProduct.model_validate({
    "id": "toy-joint", "dataset": "toy", "description": "x", "kind": "joint_training",
    "key": "code", "key_format": {"case": "upper"}, "zone_features": ["size", "kind"],
    "families": ["logistic_regression"], "max_epsilon_per_job": 2.0, "min_cohort_rows": 100,
    "bounds": {"batch_size": [8, 512]},
})  # fmt: skip
SCHEMA = {"product": "toy-joint", "purpose": "t", "key": "id",
          "label": {"column": "y", "kind": "binary", "classes": ["0", "1"]},
          "features": {"amount": {"type": "float", "bounds": [0, 10]}}}  # fmt: skip


def _spec(tmp_path: Path, rows: int) -> JointSpec:
    db = tmp_path / "datasets.duckdb"
    with duckdb.connect(str(db)) as con:  # C000..C149, plus two keys that collide as "DUP"
        con.execute('CREATE TABLE "ds_toy" AS SELECT \'C\' || lpad(i::VARCHAR, 3, \'0\') AS code, '
                    "(i % 100)::DOUBLE AS size, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS kind "
                    "FROM range(150) t(i) UNION ALL SELECT 'dup', 1.0, 'a' UNION ALL "
                    "SELECT 'DUP ', 2.0, 'b' UNION ALL SELECT 'C999', NULL, 'a'")  # fmt: skip
    lines = [f"c{i:03d},{i % 2},{i % 11}" for i in range(rows - 2)] + ["dup,1,5", "c999,0,5"]
    (tmp_path / "cohort.csv").write_text("id,y,amount\n" + "\n".join(lines) + "\n")
    schema, _ = parse_schema(SCHEMA)
    assert schema is not None
    work = tmp_path / ".work"
    work.mkdir()
    load_cohort(tmp_path / "cohort.csv", tmp_path / "c.parquet", schema, PRODUCT,
                integer_key=False, work_dir=work)  # fmt: skip
    info = CohortInfo("u", "o", "toy-joint", "toy", "v", schema, "sha256:-", rows, 0,
                      "c.parquet", "stored", "", "")  # fmt: skip
    request = JointRequest("toy-joint", "u", 1.0, 1e-6, batch_size=16)
    return plan_joint(request, PRODUCT, META, info,
                      db_path=db, cohort_path=tmp_path / "c.parquet", work_dir=work)  # fmt: skip


def test_every_cohort_row_trains_with_the_zone_part_or_the_missing_indicator(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, 300)
    assert spec.input_names == ("zone.size", "zone.kind=a", "zone.kind=b", "zone.missing",
                                "operator.amount")  # fmt: skip
    rows = data.load(spec)
    assert rows.x.shape == (300, 5) and rows.y.shape == (300,)
    order = np.lexsort((rows.x[:, 4], rows.y))  # rows come back in any order: compare sets
    missing = rows.x[:, 3] == 1
    assert int(missing.sum()) == 300 - 150  # c150.. unknown, DUP collides, C999 has a NULL
    assert np.all(rows.x[missing, :3] == 0)
    matched = rows.x[~missing]
    assert np.allclose(np.sort(matched[:, 0]), np.sort(np.arange(150) % 100 / 100))
    assert np.all(matched[:, 1] + matched[:, 2] == 1)
    assert np.all((rows.x[:, 4] >= 0) & (rows.x[:, 4] <= 1)) and order.size == 300


def test_the_zone_side_is_not_a_correlated_subquery(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 200)
    sql, params = data._query(spec)  # noqa: SLF001
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{spec.training.db_path}' AS zone (READ_ONLY)")
        con.execute("CREATE TABLE cohort AS SELECT * FROM read_parquet(?)", [spec.cohort_path])
        plan = "\n".join(str(row[1]) for row in con.execute(f"EXPLAIN {sql}", params).fetchall())
    assert "DELIM" not in plan  # a correlated join (one window per cohort row) would show it


@pytest.mark.parametrize("rows", [100])
def test_scaling_uses_public_bounds(tmp_path: Path, rows: int) -> None:
    spec = _spec(tmp_path, rows)
    x = data.load(spec).x
    assert float(x[:, 4].max()) == pytest.approx(1.0)  # amount 10 of bounds [0, 10]
