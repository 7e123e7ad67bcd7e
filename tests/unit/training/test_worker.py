"""The worker's DP-SGD job, run in-process: events, accounting, utility, scaling, NULLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import torch
from trainkit import (
    TOY_META,
    Table,
    run_collect,
    scaled_inputs,
    toy_frame,
    toy_product,
    toy_spec,
    write_table,
)

from zone.catalog import DatasetMeta, TrainingProduct
from zone.products.training import TrainingRequest, plan_training
from zone.products.training.data import load
from zone.products.training.model import split_rows
from zone.products.training.worker import NoTrainingRows, run

TOY = DatasetMeta.model_validate(TOY_META)
RESULT_KEYS = {
    "family",
    "features",
    "weights",
    "intercept",
    "scaling",
    "metrics",
    "metrics_mechanism",
    "epsilon_training",
    "epsilon_metrics",
    "epsilon_spent",
    "delta",
    "accountant",
    "device",
    "epochs_run",
    "train_seconds",
}


def result_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["event"] == "result"
    return {k: v for k, v in events[-1].items() if k != "event"}


def test_enterprise_job_events_and_accounting(
    enterprises: Table, enterprise_product: TrainingProduct, enterprise_meta: DatasetMeta
) -> None:
    request = TrainingRequest(product=enterprise_product.id, epsilon=1.0, delta=1e-5, epochs=3)
    spec = plan_training(
        request, enterprise_product, enterprise_meta, db_path=enterprises.db_path,
        public_row_count=5000,
    )  # fmt: skip
    events = run_collect(spec)
    assert [e["event"] for e in events] == [
        "touched_data", "progress", "progress", "progress", "result",
    ]  # fmt: skip
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["epoch"] for e in progress] == [1, 2, 3]
    spent = [e["epsilon_spent"] for e in progress]
    assert spent == sorted(spent) and 0 < spent[0]
    assert spent[-1] <= spec.epsilon_training
    result = result_of(events)
    assert RESULT_KEYS <= set(result)
    assert result["epsilon_training"] == spent[-1]
    assert result["epsilon_spent"] == spent[-1] + spec.epsilon_metrics <= spec.epsilon
    assert result["accountant"] == "prv" and result["device"] == "cpu"
    assert result["features"] == list(enterprise_product.features)
    assert len(result["weights"]) == len(result["features"])
    assert isinstance(result["intercept"], float)
    assert result["epochs_run"] == 3 and result["steps"] == 3 * spec.steps_per_epoch
    assert result["sample_rate"] == spec.sample_rate
    assert 0.0 <= result["metrics"]["accuracy"] <= 1.0
    assert "n" not in result["metrics"] and "rows" not in str(sorted(result))


def test_logistic_regression_beats_the_majority_class(toy: Table) -> None:
    spec = toy_spec(toy, epsilon=2.0, epochs=3)
    result = result_of(run_collect(spec))
    x = scaled_inputs(result, toy.frame)
    logits = x @ np.asarray(result["weights"]) + result["intercept"]
    truth = toy.frame["target"].to_numpy()
    accuracy = float(np.mean((logits >= 0) == (truth == 1)))
    majority = max(truth.mean(), 1 - truth.mean())
    assert accuracy > majority + 0.15, (accuracy, majority)
    assert abs(result["metrics"]["accuracy"] - accuracy) < 0.1


def test_linear_regression_releases_label_units(toy: Table) -> None:
    product = toy_product(
        id="toy-reg", family="linear_regression", label="amount", features=["a", "b"]
    )
    spec = toy_spec(toy, product, epsilon=2.0, epochs=5)
    assert spec.learning_rate == 0.5
    result = result_of(run_collect(spec))
    assert result["scaling"]["label"] == {
        "column": "amount",
        "kind": "bounded",
        "bounds": [0, 1000],
    }
    x = scaled_inputs(result, toy.frame)
    predicted = x @ np.asarray(result["weights"]) + result["intercept"]
    amount = toy.frame["amount"].to_numpy()
    rmse = float(np.sqrt(np.mean((predicted - amount) ** 2)))
    assert rmse < 0.6 * float(np.std(amount)), (rmse, np.std(amount))
    assert 0 <= result["metrics"]["rmse"] <= 1000


def test_mlp_releases_every_layer(toy: Table) -> None:
    product = toy_product(
        id="toy-mlp", family="mlp", bounds={"epochs": [1, 2], "hidden_width": [2, 8]}
    )
    spec = toy_spec(toy, product, epsilon=1.0, epochs=1, hidden_width=4)
    result = result_of(run_collect(spec))
    first, second = result["weights"]
    assert np.shape(first) == (4, 6) and np.shape(second) == (1, 4)
    assert [np.shape(b) for b in result["intercept"]] == [(4,), (1,)]
    assert result["epsilon_spent"] <= spec.epsilon


def test_public_scaling_nulls_and_out_of_domain_values(tmp_path: Path) -> None:
    frame = toy_frame(12, 1)
    frame["target"] = frame["target"].astype("Int64")
    frame.loc[0, "a"] = np.nan  # NULL in DuckDB: row dropped
    frame.loc[1, "kind"] = None  # NULL: dropped
    frame.loc[2, "target"] = 7  # outside the label's classes: dropped
    frame.loc[3, "target"] = pd.NA  # NULL label: dropped
    frame.loc[4, "a"] = 1e9  # clipped to the upper bound
    frame.loc[5, "kind"] = "unknown"  # outside the domain: all zeros
    db = write_table(tmp_path / "t.duckdb", "toy", frame)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE \"ds_toy\" SET a = 'NaN'::DOUBLE WHERE id = 'e6'")
    spec = toy_spec(Table(db, TOY, frame), public_row_count=1000, epsilon=1.0)
    rows = load(spec)
    x = rows.x
    assert len(x) == len(rows.y) == 8
    assert set(rows.y.tolist()) <= {0.0, 1.0}
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert x.shape[1] == len(spec.input_names) == 6
    clipped = [row for row in x.tolist() if row[0] == 1.0]
    assert len(clipped) >= 2  # 1e9 and NaN both end at the upper bound 10 -> 1.0
    assert sorted(x[:, 2:5].sum(axis=1).tolist()).count(0.0) == 1  # the "unknown" kind


def test_all_null_rows_fail_after_touching_data(tmp_path: Path) -> None:
    frame = toy_frame(20, 2)
    frame["a"] = np.nan
    db = write_table(tmp_path / "t.duckdb", "toy", frame)
    # A large public count (public metadata, the caller's to give) keeps calibration fast.
    spec = toy_spec(Table(db, TOY, frame), public_row_count=20_000, epsilon=1.0, epochs=1)
    events: list[dict[str, Any]] = []
    with pytest.raises(NoTrainingRows):
        run(spec.to_json(), events.append)
    assert [e["event"] for e in events] == ["touched_data"]


def test_split_is_per_row_and_random() -> None:
    x = torch.arange(10_000, dtype=torch.float32).reshape(-1, 1)
    (train_x, train_y), (val_x, val_y) = split_rows(x, x[:, 0], 0.2)
    assert len(train_x) + len(val_x) == 10_000 and 1_800 < len(val_x) < 2_200
    assert sorted(torch.cat([train_y, val_y]).tolist()) == x[:, 0].tolist()
    (_, other), _ = split_rows(x, x[:, 0], 0.2)
    assert not torch.equal(other, train_y)  # fresh entropy each time, not a fixed seed


def test_a_bad_spec_fails_before_touching_data() -> None:
    events: list[dict[str, Any]] = []
    with pytest.raises(ValueError):
        run('{"product": "x"}', events.append)
    assert events == []
