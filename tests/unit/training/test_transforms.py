"""Declared feature transforms, the holdout settings and the DP AUC of training products."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
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

from zone.catalog import DatasetMeta, TrainingProduct, load_products, product_parameters
from zone.errors import ValidationFailed
from zone.products.training.data import load
from zone.products.training.metrics import (
    AUC_LOGIT_EDGES,
    binned_auc,
    classification_counts,
    dp_metrics,
)

# A skewed amount (like UCI Adult's capital gains): mostly 0, a few large values.
SKEWED_META = {
    **TOY_META,
    "columns": {
        **TOY_META["columns"],
        "gain": {"type": "float", "level": "L2", "bounds": [0, 99999]},
        "grade": {"type": "integer", "level": "L2", "bounds": [1, 16]},
    },
}


def _frame(rows: int, seed: int) -> pd.DataFrame:
    frame = toy_frame(rows, seed)
    rng = np.random.default_rng(seed)
    frame["gain"] = np.where(rng.random(rows) < 0.9, 0.0, rng.lognormal(8, 1.5, rows))
    frame["grade"] = rng.integers(1, 17, rows)
    return frame


@pytest.fixture(scope="module")
def skewed(tmp_path_factory: pytest.TempPathFactory) -> Table:
    frame = _frame(6000, 5)
    db = write_table(tmp_path_factory.mktemp("skewed") / "zone.duckdb", "toy", frame)
    return Table(db, DatasetMeta.model_validate(SKEWED_META), frame)


def product(**overrides: Any) -> TrainingProduct:
    return toy_product(features=["a", "b", "kind", "flag", "gain", "grade"], **overrides)


TRANSFORMS = {
    "gain": "log1p",
    "b": {"kind": "scale", "clip": [10, 90]},
    "grade": {"kind": "one_hot", "domain": [1, 2, 3]},
}


def test_transforms_declare_the_public_scaling(skewed: Table) -> None:
    spec = toy_spec(skewed, product(transforms=TRANSFORMS), epsilon=1.0)
    scaling = {s.column: s.to_dict() for s in spec.scaling}
    assert scaling["gain"] == {"column": "gain", "kind": "log1p", "bounds": [0.0, 99999.0]}
    assert scaling["b"] == {"column": "b", "kind": "numeric", "bounds": [10.0, 90.0]}
    assert scaling["grade"] == {"column": "grade", "kind": "categorical", "domain": [1, 2, 3]}
    assert scaling["a"]["kind"] == "numeric"  # no transform: the metadata's bounds
    assert "grade=3" in spec.input_names and "grade=4" not in spec.input_names


def test_the_worker_reads_transformed_inputs(skewed: Table) -> None:
    spec = toy_spec(skewed, product(transforms=TRANSFORMS), epsilon=1.0)
    rows = load(spec)
    released = {"scaling": {"features": [s.to_dict() for s in spec.scaling]}}
    expected = scaled_inputs(released, skewed.frame)
    assert rows.x.shape == expected.shape
    assert np.allclose(rows.x, expected, atol=1e-6)
    gain = rows.x[:, spec.input_names.index("gain")]
    assert gain.min() == 0.0 and 0.5 < gain.max() <= 1.0  # log1p spreads the rare large values
    assert rows.holdout is None  # no split_seed: the worker draws the split


def test_a_log1p_model_trains_and_releases_auc(skewed: Table) -> None:
    spec = toy_spec(skewed, product(transforms=TRANSFORMS), epsilon=2.0, epochs=3)
    result = run_collect(spec)[-1]
    assert {"accuracy", "auc"} == set(result["metrics"])
    assert result["metrics"]["auc"] > 0.7  # a learnable label (the toy's logit)
    kinds = {f["column"]: f["kind"] for f in result["scaling"]["features"]}
    assert kinds["gain"] == "log1p"


@pytest.mark.parametrize(
    ("transforms", "fragment"),
    [
        ({"kind": "log1p"}, "needs an integer or float column"),  # on 'kind', a string
        ({"kind": "one_hot"}, "needs a string, integer, date or boolean"),  # on 'a', a float
        ({"kind": "scale"}, "needs clip bounds"),  # on 'free', no bounds
        ({"kind": "one_hot", "domain": ["1", "2"]}, "must be ints like the column"),
    ],
)
def test_transforms_beyond_public_facts_are_refused_at_loading(
    tmp_path: Path, transforms: dict[str, Any], fragment: str
) -> None:
    column = {
        "needs an integer or float column": "kind",
        "needs a string, integer, date or boolean": "a",
        "needs clip bounds": "free",
        "must be ints like the column": "grade",
    }[fragment]
    features = list(dict.fromkeys(["a", "b", column]))
    models = tmp_path / "models"
    models.mkdir()
    (models / "p.yaml").write_text(
        "id: p\nkind: training\ndataset: toy\ndescription: d\nfamily: logistic_regression\n"
        f"label: target\nfeatures: [{', '.join(features)}]\nmax_epsilon_per_job: 1.0\n"
        f"transforms:\n  {column}: {transforms!r}\n".replace("'", '"'),
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as caught:
        load_products(models, {"toy": DatasetMeta.model_validate(SKEWED_META)})
    [problem] = caught.value.problems
    assert fragment in problem.message and problem.line == 10  # the transform's line


@pytest.mark.parametrize(
    ("transforms", "fragment"),
    [
        ({"gain": {"kind": "log1p", "clip": [-1, 10]}}, "clip low > -1"),
        ({"gain": {"kind": "one_hot", "clip": [0, 10]}}, "not one_hot"),
        ({"gain": {"kind": "scale", "domain": [1]}}, "one_hot only"),
        ({"gain": {"kind": "scale", "clip": [5, 5]}}, "low < high"),
        ({"nope": "log1p"}, "transforms must name features"),
        ({"gain": "square"}, "'scale', 'log1p' or 'one_hot'"),
    ],
)
def test_malformed_transforms_are_refused(transforms: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        product(transforms=transforms)


def test_holdout_settings(skewed: Table) -> None:
    spec = toy_spec(skewed, product(holdout_fraction=0.3, split_seed=7), epsilon=1.0)
    assert spec.validation_fraction == 0.3 and spec.public_train_rows == 4200  # 6000 * 0.7
    assert spec.split_seed == 7 and spec.entity_key == "id"
    for bad in ({"holdout_fraction": 0.0}, {"holdout_fraction": 0.6}, {"split_seed": -1}):
        with pytest.raises(ValidationError):
            product(**bad)
    parameters = product_parameters(product(split_seed=7, transforms={"gain": "log1p"}))
    assert parameters["holdout_fraction"] == 0.2 and parameters["split_seed"] == 7
    assert parameters["transforms"] == {"gain": {"kind": "log1p"}}


def _held(seed: int, key: str, fraction: float) -> bool:
    digest = hashlib.md5(f"zone-holdout:{seed}:{key}".encode()).hexdigest()
    return int(digest[:13], 16) < int(fraction * 2**52)


def test_a_seeded_split_is_a_keyed_hash_of_each_entity(tmp_path: Path, skewed: Table) -> None:
    spec = toy_spec(skewed, product(holdout_fraction=0.25, split_seed=42), epsilon=1.0)
    rows = load(spec)
    assert rows.holdout is not None
    expected = [_held(42, key, 0.25) for key in skewed.frame["id"]]
    assert rows.holdout.tolist() == expected  # no NULLs in the toy: every row is kept
    assert 0.22 < rows.holdout.mean() < 0.28
    # A neighbouring dataset (one entity removed) moves no other entity between the parts.
    smaller = write_table(tmp_path / "n.duckdb", "toy", skewed.frame.iloc[1:])
    neighbour = load(toy_spec(Table(smaller, skewed.meta, skewed.frame.iloc[1:]),
                              product(holdout_fraction=0.25, split_seed=42),
                              public_row_count=6000, epsilon=1.0))  # fmt: skip
    assert neighbour.holdout is not None and neighbour.holdout.tolist() == expected[1:]
    other = load(toy_spec(skewed, product(holdout_fraction=0.25, split_seed=43), epsilon=1.0))
    assert other.holdout is not None and other.holdout.tolist() != expected


def test_binned_auc_by_hand() -> None:
    # Positives in bins 2 and 3, negatives in bins 0 and 2: pairs (p, n) ordered 1, tied 1/2.
    assert binned_auc([0, 0, 1, 1], [1, 0, 1, 0]) == pytest.approx((1.5 + 2) / 4)
    assert binned_auc([0, 2], [2, 0]) == 1.0 and binned_auc([2, 0], [0, 2]) == 0.0
    assert binned_auc([0, 0], [1, 1]) == 0.5  # no positives: nothing to rank


def test_the_released_auc_is_the_binned_auc_without_noise() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, 4000)
    targets = (rng.random(4000) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    spec = type("Spec", (), {"family": "logistic_regression", "epsilon_metrics": 1e6})()
    metrics = dp_metrics(spec, logits, targets)  # type: ignore[arg-type]
    _, ranks = classification_counts(logits, targets)
    width = len(AUC_LOGIT_EDGES) + 1
    assert metrics["auc"] == pytest.approx(binned_auc(ranks[:width], ranks[width:]), abs=1e-3)
    order = np.argsort(logits)
    positives = targets[order] == 1
    exact = (np.cumsum(~positives)[positives]).sum() / (positives.sum() * (~positives).sum())
    assert abs(metrics["auc"] - exact) < 0.02  # binning on the public logit grid costs little


@settings(max_examples=50, deadline=None)
@given(
    logits=st.lists(st.floats(-8, 8), min_size=1, max_size=40),
    targets=st.lists(st.booleans(), min_size=40, max_size=40),
    extra=st.tuples(st.floats(-8, 8), st.booleans()),
)
def test_one_row_moves_each_count_vector_by_one(
    logits: list[float], targets: list[bool], extra: tuple[float, bool]
) -> None:
    """The L1 sensitivity the mechanisms are calibrated for: adding one row changes each
    released count vector by exactly 1 in L1 norm."""
    x = np.array(logits)
    y = np.array(targets[: len(logits)], dtype=np.float64)
    before = classification_counts(x, y)
    after = classification_counts(np.append(x, extra[0]), np.append(y, float(extra[1])))
    for old, new in zip(before, after, strict=True):
        assert sum(abs(a - b) for a, b in zip(old, new, strict=True)) == 1
