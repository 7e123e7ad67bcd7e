"""plan_training: every problem reported at once, defaults inside the product's bounds."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from trainkit import ROOT, TOY_FEATURES, Table, toy_product, toy_spec

from zone.catalog import DatasetMeta, TrainingProduct
from zone.errors import InvalidArgument, ValidationFailed
from zone.products.training import GUARANTEE, TrainingRequest, TrainingSpec, plan_training
from zone.products.training.spec import METRICS_SHARE, split_epsilon


def problems(table: Table, product: TrainingProduct | None = None, **request: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        toy_spec(table, product, **request)
    assert isinstance(caught.value, InvalidArgument)
    assert all(p.source == "training request" and p.line is None for p in caught.value.problems)
    return [p.message for p in caught.value.problems]


def test_enterprise_defaults_are_inside_the_product_bounds(
    enterprises: Table, enterprise_product: TrainingProduct, enterprise_meta: DatasetMeta
) -> None:
    request = TrainingRequest(product="enterprise-default-lr", epsilon=1.0, delta=1e-6)
    spec = plan_training(
        request,
        enterprise_product,
        enterprise_meta,
        db_path=Path("x.duckdb"),
        public_row_count=5000,
    )
    assert (spec.epochs, spec.batch_size, spec.learning_rate, spec.max_grad_norm) == (
        20,
        256,
        2.0,
        1.0,
    )
    for name, (low, high) in enterprise_product.bounds.items():
        assert low <= getattr(spec, name) <= high
    assert spec.hidden_width is None
    assert spec.table == '"ds_enterprises"'
    assert spec.features == enterprise_product.features
    assert spec.label == "default_flag"
    assert spec.label_scaling.classes == (0, 1)
    assert spec.use_cuda is False  # allow_gpu, but not asked for
    assert spec.accountant == "prv"


def test_public_sample_rate_and_epsilon_split(toy: Table) -> None:
    spec = toy_spec(toy, epsilon=1.0, batch_size=100)
    assert spec.public_train_rows == 4800  # floor(6000 * 0.8)
    assert spec.steps_per_epoch == 48
    assert spec.sample_rate == 1 / 48
    assert spec.expected_batch_size == pytest.approx(100)
    assert spec.epsilon_metrics == pytest.approx(METRICS_SHARE)
    assert spec.epsilon_training + spec.epsilon_metrics <= spec.epsilon


@pytest.mark.parametrize("epsilon", [1e-6, 0.1, 0.3, 0.7, 1.0, 1.1, 2.9, 3.3, 99.9])
def test_epsilon_split_never_exceeds_the_request(epsilon: float) -> None:
    training, metrics = split_epsilon(epsilon)
    assert training > 0 and metrics > 0 and training + metrics <= epsilon


def test_defaults_are_clamped_into_narrow_bounds(toy: Table) -> None:
    bounds = {"epochs": [1, 5], "batch_size": [300, 400], "learning_rate": [0.01, 0.5]}
    spec = toy_spec(toy, toy_product(bounds=bounds))
    assert (spec.epochs, spec.batch_size, spec.learning_rate) == (5, 300, 0.5)
    assert spec.max_grad_norm == 1.0  # no bounds: the default


def test_mlp_defaults(toy: Table) -> None:
    spec = toy_spec(toy, toy_product(id="toy-mlp", family="mlp"))
    assert (spec.hidden_width, spec.learning_rate) == (32, 0.5)


def test_every_problem_is_reported_at_once(toy: Table) -> None:
    messages = problems(
        toy,
        features=("a", "a", "amount"),
        epochs=31,
        batch_size=8,
        learning_rate=math.nan,
        max_grad_norm=True,
        hidden_width=16,
        epsilon=0.0,
        delta=0.5,
        seed=-1,
    )
    expected = [
        "features must be unique",
        "feature 'amount' is not one of the product's features",
        "epochs must be within [1, 30], got 31",
        "batch_size must be within [16, 4096], got 8",
        "learning_rate must be finite",
        "max_grad_norm must be a number",
        "hidden_width applies only to family mlp",
        "epsilon must be a finite number in (0, 100]",
        "delta must be a number in (0, 0.001]",
        "seed must be an integer in [0, 2**63)",
    ]
    assert messages == expected


def test_l4_unscalable_and_label_problems(toy: Table) -> None:
    product = toy_product(features=["a", "secret", "free"], label="amount")
    messages = problems(toy, product)
    assert messages == [
        "column 'secret' is classified L4 and cannot be read",
        "feature 'free' has no public bounds or domain",
        "label 'amount' must be binary (a two-value public domain, or bounds [0, 1]) "
        "for family logistic_regression",
    ]
    regression = toy_product(
        id="toy-reg", family="linear_regression", label="kind", features=["a", "b"]
    )
    assert problems(toy, regression) == [
        "label 'kind' must be numeric with public bounds for family linear_regression"
    ]


def test_hyperparameters_without_bounds_cannot_be_set(toy: Table) -> None:
    product = toy_product(id="toy-mlp", family="mlp", bounds={"epochs": [1, 3]})
    messages = problems(toy, product, hidden_width=8, learning_rate=0.1, epochs=2.5)
    assert messages == [
        "epochs must be an integer",
        "learning_rate is not adjustable for product 'toy-mlp' (no approved bounds); "
        "omit it to use the default 0.5",
        "hidden_width is not adjustable for product 'toy-mlp' (no approved bounds); "
        "omit it to use the default 32",
    ]


@pytest.mark.parametrize(
    ("epsilon", "delta", "message"),
    [
        (math.inf, 1e-5, "epsilon must be a finite number in (0, 100]"),
        (-1.0, 1e-5, "epsilon must be a finite number in (0, 100]"),
        (101.0, 1e-5, "epsilon must be a finite number in (0, 100]"),
        (1.0, 0.0, "delta must be a number in (0, 0.001]"),
        (1.0, math.nan, "delta must be a number in (0, 0.001]"),
        (1.0, 1e-3, "delta must be below 1 / (public row count 6000) = 0.000167"),
    ],
)
def test_privacy_parameters(toy: Table, epsilon: float, delta: float, message: str) -> None:
    assert problems(toy, epsilon=epsilon, delta=delta) == [message]


def test_batch_too_large_for_the_public_size(toy: Table) -> None:
    assert problems(toy, batch_size=4000) == [
        "batch_size 4000 is too large for this dataset (about 4800 training rows): at most 3200"
    ]
    assert toy_spec(toy, batch_size=3200).steps_per_epoch == 2


def test_other_product_and_empty_dataset(toy: Table) -> None:
    request = TrainingRequest(product="other", epsilon=1.0, delta=1e-6)
    with pytest.raises(ValidationFailed) as caught:
        plan_training(request, toy_product(), toy.meta, db_path=toy.db_path, public_row_count=0)
    assert [p.message for p in caught.value.problems] == [
        "the request names another product",
        "the dataset is too small to train on (public row count 0)",
    ]


def test_spec_json_round_trip(toy: Table) -> None:
    spec = toy_spec(toy, toy_product(id="toy-mlp", family="mlp"), seed=3, keep_in_zone=True)
    text = spec.to_json()
    assert TrainingSpec.from_json(text) == spec
    assert spec.input_names == ("a", "b", "kind=x", "kind=y", "kind=z", "flag")
    data = json.loads(text)
    data["epochs"] = "20"
    with pytest.raises(ValueError, match="epochs"):
        TrainingSpec.from_json(json.dumps(data))
    data = json.loads(text)
    data["extra"] = 1
    with pytest.raises(ValueError, match="fields"):
        TrainingSpec.from_json(json.dumps(data))


def test_all_features_by_default_and_a_subset(toy: Table) -> None:
    assert toy_spec(toy).features == tuple(TOY_FEATURES)
    assert toy_spec(toy, features=("kind", "a")).features == ("kind", "a")
    assert "DP" in GUARANTEE


def test_spec_module_does_not_import_torch() -> None:
    code = (
        "import sys, zone.products.training, zone.products.training.spec; "
        "assert 'torch' not in sys.modules and 'opacus' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
