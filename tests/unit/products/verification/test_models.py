"""Scoring models: the product's own and kept models, scaled from public bounds only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zone.catalog import TrainingProduct, VerificationProduct, load_metadata, load_products
from zone.errors import InvalidArgument
from zone.models.registry import ModelRecord
from zone.products.training.scaling import FeatureScaling
from zone.products.verification.models import (
    PRODUCT_MODEL,
    ScoreModel,
    product_model,
    registry_model,
    rule_problems,
)
from zone.products.verification.records import ProductRecords

ROOT = Path(__file__).resolve().parents[4]
META = load_metadata(ROOT / "examples" / "enterprises.meta.yaml")
PRODUCTS = load_products(ROOT / "models", {"enterprises": META})
PRODUCT = PRODUCTS["capital-match"]
assert isinstance(PRODUCT, VerificationProduct)
assert isinstance(PRODUCTS["enterprise-default-lr"], TrainingProduct)


def records(**columns: list[float]) -> ProductRecords:
    n = len(next(iter(columns.values())))
    return ProductRecords(
        "v", {f"k{i}": i for i in range(n)}, {k: np.array(v) for k, v in columns.items()}
    )


def test_product_model_scales_zone_features_with_public_bounds() -> None:
    model = product_model(PRODUCT, META)
    assert model.ref == PRODUCT_MODEL and model.link == "logit"
    assert [f.name for f in model.caller_features] == ["loan_amount", "days_overdue"]
    spec = PRODUCT.score_model
    assert spec is not None
    data = {name: [0.0, 0.0, 0.0] for name in spec.zone_features}
    data["employees"] = [2500.0, 10_000.0, np.nan]  # bounds [0, 5000]: half, clipped, NULL
    part, complete = model.zone_part(records(**data), np.array([0, 1, 2, -1]))
    w = spec.weights["employees"]
    assert complete.tolist() == [True, True, False, False]
    assert part[:2] == pytest.approx([spec.intercept + 0.5 * w, spec.intercept + w])
    assert part[2:].tolist() == [0.0, 0.0]


def kept(**changes: Any) -> ModelRecord:
    model: dict[str, Any] = {
        "family": "logistic_regression",
        "features": ["employees", "penalties"],
        "weights": [0.5, -1.0],
        "intercept": 0.25,
        "scaling": {
            "features": [
                {"column": "employees", "kind": "numeric", "bounds": [0, 5000]},
                {"column": "penalties", "kind": "numeric", "bounds": [0, 20]},
            ]
        },
    }
    model.update(changes)
    return ModelRecord("m1", "bank-a", "enterprise-default-lr", "j1", "t", model, {})


def test_kept_linear_model_is_usable() -> None:
    model = registry_model(kept(), PRODUCT, PRODUCTS)
    assert model.ref == "m1" and model.caller_features == () and model.link == "logit"
    part, _ = model.zone_part(records(employees=[5000.0], penalties=[10.0]), np.array([0]))
    assert part[0] == pytest.approx(0.25 + 0.5 - 0.5)


@pytest.mark.parametrize(
    "changes",
    [
        {"family": "mlp"},
        {"weights": [0.5]},
        {"weights": [0.5, float("nan")]},
        {
            "scaling": {
                "features": [{"column": "legal_rep_id", "kind": "numeric", "bounds": [0, 1]}] * 2
            }
        },  # fmt: skip
        {"scaling": "nonsense"},
    ],
)
def test_unusable_kept_models_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as refused:
        registry_model(kept(**changes), PRODUCT, PRODUCTS)
    assert refused.value.reason == "model_not_usable"


def test_a_model_of_another_product_kind_is_refused() -> None:
    record = kept()
    other = ModelRecord("m2", "bank-a", "enterprise-stats", "j", "t", record.model, {})
    with pytest.raises(InvalidArgument):
        registry_model(other, PRODUCT, PRODUCTS)


def test_the_weight_bound_counts_a_column_named_twice_once_with_both_weights() -> None:
    """Training refuses repeated features; the rule must not depend on it (5 + 5 > 5)."""

    def model(columns: list[str], weights: list[float]) -> ScoreModel:
        scaling = tuple(FeatureScaling(c, "numeric", (0.0, 1.0)) for c in columns)
        return ScoreModel("m", "logit", (), (), scaling, tuple(weights), 0.0, 0.05)

    balanced = model(["employees", "tax_paid", "penalties"], [5.0, 2.5, 2.5])
    assert rule_problems(balanced, PRODUCT) == []
    twice = model(["employees", "employees", "tax_paid", "penalties"], [5.0, 5.0, 5.0, 5.0])
    assert any("max_zone_weight" in p for p in rule_problems(twice, PRODUCT))
    scaled = model(["employees", "tax_paid", "penalties"], [5000.0, 2500.0, 2500.0])
    assert any("max_zone_weight" in p for p in rule_problems(scaled, PRODUCT))
