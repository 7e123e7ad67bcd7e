"""Helpers for the training tests: DuckDB files, a learnable toy table, products, runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from zone.catalog import DatasetMeta, TrainingProduct
from zone.products.training.request import TrainingRequest
from zone.products.training.spec import TrainingSpec, plan_training

ROOT = Path(__file__).resolve().parents[3]

TOY_META: dict[str, Any] = {
    "description": "Toy registry with a learnable label",
    "provider": "Tests",
    "entity_key": "id",
    "columns": {
        "id": {"type": "string", "level": "L3"},
        "a": {"type": "float", "level": "L2", "bounds": [0, 10]},
        "b": {"type": "integer", "level": "L2", "bounds": [0, 100]},
        "kind": {"type": "string", "level": "L1", "domain": ["x", "y", "z"]},
        "flag": {"type": "boolean", "level": "L1"},
        "secret": {"type": "string", "level": "L4"},
        "free": {"type": "float", "level": "L2"},
        "target": {"type": "integer", "level": "L3", "domain": [0, 1]},
        "amount": {"type": "float", "level": "L2", "bounds": [0, 1000]},
    },
}
TOY_FEATURES = ["a", "b", "kind", "flag"]
WIDE_BOUNDS = {
    "epochs": [1, 30],
    "batch_size": [16, 4096],
    "learning_rate": [0.01, 5.0],
    "max_grad_norm": [0.1, 5.0],
}


@dataclass(frozen=True)
class Table:
    """A dataset in a DuckDB file, with its metadata and the frame it was built from."""

    db_path: Path
    meta: DatasetMeta
    frame: pd.DataFrame


def write_table(db_path: Path, name: str, frame: pd.DataFrame) -> Path:
    with duckdb.connect(str(db_path)) as con:
        con.register("frame", frame)
        con.execute(f'CREATE TABLE "ds_{name}" AS SELECT * FROM frame')
        con.unregister("frame")
    return db_path


def toy_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 10, rows)
    b = rng.integers(0, 101, rows)
    kind = rng.choice(["x", "y", "z"], rows)
    flag = rng.random(rows) < 0.5
    logit = 1.2 * (a - 5) - 0.06 * (b - 50) + 1.5 * (kind == "z") - 1.0 * flag
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    amount = np.clip(100 + 60 * a + 3 * b + rng.normal(0, 30, rows), 0, 1000)
    return pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(rows)],
            "a": a,
            "b": b,
            "kind": kind,
            "flag": flag,
            "secret": "s",
            "free": rng.normal(0, 1, rows),
            "target": target,
            "amount": amount,
        }
    )


def toy_product(**overrides: Any) -> TrainingProduct:
    data: dict[str, Any] = {
        "id": "toy-lr",
        "kind": "training",
        "dataset": "toy",
        "description": "Toy logistic regression",
        "family": "logistic_regression",
        "label": "target",
        "features": TOY_FEATURES,
        "bounds": WIDE_BOUNDS,
        "max_epsilon_per_job": 10.0,
    }
    data.update(overrides)
    return TrainingProduct.model_validate(data)


def toy_spec(
    table: Table,
    product: TrainingProduct | None = None,
    *,
    public_row_count: int | None = None,
    **request: Any,
) -> TrainingSpec:
    product = product or toy_product()
    request.setdefault("epsilon", 4.0)
    request.setdefault("delta", 1e-5)
    rounded = public_row_count or len(table.frame) // 1000 * 1000
    return plan_training(
        TrainingRequest(product=product.id, **request),
        product,
        table.meta,
        db_path=table.db_path,
        public_row_count=rounded,
    )


def run_collect(spec: TrainingSpec) -> list[dict[str, Any]]:
    from zone.products.training.worker import run

    events: list[dict[str, Any]] = []
    run(spec.to_json(), events.append)
    return events


def scaled_inputs(result: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """The model inputs of ``frame`` built from the released (public) scaling."""
    columns = []
    for feature in result["scaling"]["features"]:
        values = frame[feature["column"]]
        if feature["kind"] == "numeric":
            low, high = feature["bounds"]
            columns.append((np.clip(values.to_numpy(float), low, high) - low) / (high - low))
        elif feature["kind"] == "log1p":
            low, high = np.log1p(feature["bounds"])
            logged = np.log1p(np.clip(values.to_numpy(float), *feature["bounds"]))
            columns.append((logged - low) / (high - low))
        elif feature["kind"] == "boolean":
            columns.append(values.to_numpy(float))
        else:
            columns += [(values == v).to_numpy(float) for v in feature["domain"]]
    return np.stack(columns, axis=1)
