"""The cohort schema: parsed whole, every problem located; checked against the product."""

from __future__ import annotations

from typing import Any

import yaml

from zone.catalog._joint import JointTrainingProduct
from zone.products.joint.schema import parse_schema, product_problems

EXAMPLE: dict[str, Any] = {
    "product": "p",
    "purpose": "credit",
    "key": "uscc",
    "label": {"column": "defaulted", "kind": "binary", "classes": ["no", "yes"]},
    "features": {
        "loan_amount": {"type": "float", "bounds": [0, 5000]},
        "days": {"type": "integer", "bounds": [0, 365]},
        "channel": {"type": "string", "domain": ["branch", "online"]},
        "owns": {"type": "boolean"},
    },
}


def test_the_example_parses_and_round_trips() -> None:
    schema, problems = parse_schema(EXAMPLE)
    assert problems == [] and schema is not None
    assert schema.columns == ("uscc", "defaulted", "loan_amount", "days", "channel", "owns")
    assert schema.label.family == "logistic_regression"
    again, _ = parse_schema(yaml.safe_load(yaml.safe_dump(schema.to_dict())))
    assert again == schema  # the stored form lists features in order (YAML sorts mappings)


def test_every_problem_is_reported_with_its_location() -> None:
    data = {
        "product": "",
        "purpose": "x" * 501,
        "key": "bad key",
        "label": {"column": "y", "kind": "binary", "classes": ["same", "same"]},
        "features": {
            "a": {"type": "float"},
            "b": {"type": "string", "domain": []},
            "c": {"type": "complex"},
            "d": {"type": "boolean", "bounds": [0, 1]},
            "e": {"type": "integer", "bounds": [5, 1], "colour": "red"},
        },
        "extra": 1,
    }
    schema, problems = parse_schema(data)
    assert schema is None
    where = {loc for loc, _ in problems}
    assert {("product",), ("purpose",), ("label", "classes"), ("features", "a", "bounds"),
            ("features", "b", "domain"), ("features", "c", "type"), ("features", "d"),
            ("features", "e", "bounds"), ("features", "e"), ()} <= where  # fmt: skip
    assert any("'bad key' is not a column name" in m for _, m in problems)


def test_columns_must_be_distinct_ignoring_case() -> None:
    data = {**EXAMPLE, "features": {"USCC": {"type": "boolean"}}}
    _, problems = parse_schema(data)
    assert any("distinct" in m for _, m in problems)


def test_product_rules() -> None:
    product = JointTrainingProduct.model_validate({
        "id": "p", "dataset": "d", "description": "x", "kind": "joint_training", "key": "k",
        "zone_features": ["a"], "families": ["linear_regression"], "max_epsilon_per_job": 1.0,
        "max_operator_features": 2,
    })  # fmt: skip
    schema, _ = parse_schema(EXAMPLE)
    assert schema is not None
    problems = product_problems(schema, product)
    assert any("does not offer" in p for p in problems)
    assert any("at most 2 operator features" in p for p in problems)
