"""The joint worker in-process: a regression cohort trains and releases DP RMSE in label units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from zone.catalog import DatasetMeta, JointTrainingProduct
from zone.products.joint import worker
from zone.products.joint.csvload import load_cohort
from zone.products.joint.plan import JointRequest, plan_joint
from zone.products.joint.schema import parse_schema
from zone.products.joint.store import CohortInfo

META = DatasetMeta.model_validate({
    "description": "toy", "provider": "tests", "entity_key": "code",
    "columns": {"code": {"type": "integer", "level": "L3"},
                "size": {"type": "float", "level": "L2", "bounds": [0, 100]}},
})  # fmt: skip
PRODUCT = JointTrainingProduct.model_validate({
    "id": "toy-joint", "dataset": "toy", "description": "x", "kind": "joint_training",
    "key": "code", "zone_features": ["size"], "families": ["linear_regression"],
    "max_epsilon_per_job": 10.0, "min_cohort_rows": 100, "bounds": {"epochs": [1, 30]},
})  # fmt: skip
SCHEMA = {"product": "toy-joint", "purpose": "t", "key": "id",
          "label": {"column": "amount", "kind": "bounded", "bounds": [0, 1000]},
          "features": {"owner": {"type": "boolean"}}}  # fmt: skip


def test_a_regression_job_releases_weights_in_label_units_and_a_dp_rmse(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2000
    size = rng.uniform(0, 100, n)
    owner = rng.random(n) < 0.5
    amount = np.clip(200 + 6 * size + 150 * owner + rng.normal(0, 20, n), 0, 1000)
    db = tmp_path / "datasets.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute('CREATE TABLE "ds_toy" AS SELECT range AS code, ? [range + 1] AS size '
                    "FROM range(?)", [size.tolist(), n])  # fmt: skip
    lines = [f"{'00' if i % 7 == 0 else ''}{i},{amount[i]:.3f},{str(bool(owner[i])).lower()}"
             for i in range(n)]  # fmt: skip
    (tmp_path / "c.csv").write_text("id,amount,owner\n" + "\n".join(lines) + "\n")
    schema, _ = parse_schema(SCHEMA)
    assert schema is not None
    (tmp_path / "w").mkdir()
    rows = load_cohort(tmp_path / "c.csv", tmp_path / "c.parquet", schema, PRODUCT,
                       integer_key=True, work_dir=tmp_path / "w")  # fmt: skip
    info = CohortInfo("u", "o", "toy-joint", "toy", "v", schema, "sha256:-", rows, 0,
                      "c.parquet", "stored", "", "")  # fmt: skip
    spec = plan_joint(JointRequest("toy-joint", "u", 8.0, 1e-5, epochs=10), PRODUCT, META, info,
                      db_path=db, cohort_path=tmp_path / "c.parquet",
                      work_dir=tmp_path / "w")  # fmt: skip
    events: list[dict[str, Any]] = []
    worker.run(spec.to_json(), events.append)
    assert [e["event"] for e in events][:2] == ["touched_data", "progress"]
    result = events[-1]
    assert result["event"] == "result" and result["family"] == "linear_regression"
    assert result["features"] == ["zone.size", "zone.missing", "operator.owner"]
    weights = dict(zip(result["features"], result["weights"], strict=True))
    assert 300 < weights["zone.size"] < 800  # 6 per unit of size over [0, 100]: 600
    assert 0 <= result["metrics"]["rmse"] <= 1000  # label units; noisy at 400 held-out rows
    assert result["epsilon_spent"] <= 8.0 and result["accounting"].startswith("replace-one")
