"""A kept joint model serves Score with the operator's features as encrypted caller features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zone.catalog import JointTrainingProduct, VerificationProduct, load_metadata, load_products
from zone.catalog._verification import scoring_problems as rule_problems
from zone.errors import InvalidArgument
from zone.models.registry import ModelRecord
from zone.products.verification.models import registry_model

ROOT = Path(__file__).resolve().parents[4]
META = load_metadata(ROOT / "examples" / "enterprises.meta.yaml")


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    models = tmp_path_factory.mktemp("models")
    for source in (ROOT / "models" / "capital-match.yaml",
                   ROOT / "examples" / "joint" / "enterprise-joint.yaml"):  # fmt: skip
        (models / source.name).write_text(source.read_text())
    loaded = load_products(models, {"enterprises": META})
    assert isinstance(loaded["enterprise-joint"], JointTrainingProduct)
    return loaded


def _record(zone: list[str], operator: list[dict[str, Any]], weights: list[float]) -> ModelRecord:
    zone_scaling = [{"column": c, "kind": "numeric", "bounds": list(META.columns[c].bounds or ())}
                    for c in zone]  # fmt: skip
    inputs = [*(f"zone.{c}" for c in zone), "zone.missing",
              *(f"operator.{o['column']}" for o in operator)]  # fmt: skip
    model = {"family": "logistic_regression", "features": inputs, "weights": weights,
             "intercept": -1.0, "scaling": {"zone": zone_scaling, "operator": operator,
                                            "inputs": inputs, "label": {}}}  # fmt: skip
    return ModelRecord("m1", "opa", "enterprise-joint", "j1", "t", model, {})


ZONE = ["employees", "tax_paid", "penalties"]
OPERATOR = [{"column": "loan_amount", "kind": "numeric", "bounds": [0, 5000]},
            {"column": "owns_home", "kind": "boolean"}]  # fmt: skip


def test_operator_inputs_become_caller_features_and_the_indicator_is_dropped(
    products: dict[str, Any],
) -> None:
    product = products["capital-match"]
    assert isinstance(product, VerificationProduct)
    model = registry_model(_record(ZONE, OPERATOR, [0.6, -0.8, 1.0, 3.0, 0.9, -0.4]), product,
                           products)  # fmt: skip
    assert [(f.name, f.bounds) for f in model.caller_features] == [
        ("loan_amount", (0.0, 5000.0)), ("owns_home", (0.0, 1.0))]  # fmt: skip
    assert model.caller_weights == (0.9, -0.4)
    assert [s.column for s in model.zone_features] == ZONE
    assert model.zone_weights == (0.6, -0.8, 1.0) and model.intercept == -1.0
    zone = {s.column: w for s, w in zip(model.zone_features, model.zone_weights, strict=True)}
    assert rule_problems(zone, min_zone_features=3, max_zone_feature_share=0.5,
                         max_zone_weight=5.0) == []  # fmt: skip


def test_categorical_features_or_mismatched_weights_cannot_serve(
    products: dict[str, Any],
) -> None:
    product = products["capital-match"]
    channel = [{"column": "channel", "kind": "categorical", "domain": ["a", "b"]}]
    with pytest.raises(InvalidArgument):
        registry_model(_record(ZONE, channel, [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]), product, products)
    with pytest.raises(InvalidArgument):
        registry_model(_record(ZONE, OPERATOR, [1.0, 1.0]), product, products)
