from __future__ import annotations

import json
from pathlib import Path

import pytest

from zone.catalog import (
    DatasetMeta,
    StatisticsProduct,
    TrainingProduct,
    VerificationProduct,
    columns_read,
    load_products,
    product_parameters,
)
from zone.errors import ValidationFailed

ENTERPRISES = DatasetMeta.model_validate(
    {
        "description": "Registered enterprises",
        "provider": "Market regulation bureau",
        "entity_key": "uscc",
        "columns": {
            "uscc": {"type": "string", "level": "L3"},
            "district": {"type": "string", "level": "L1", "domain": ["east", "west"]},
            "industry": {"type": "string", "level": "L1", "domain": ["a", "b"]},
            "street": {"type": "string", "level": "L1"},
            "founded_year": {"type": "integer", "level": "L1", "bounds": [1980, 2025]},
            "registered_capital": {"type": "float", "level": "L2", "bounds": [0, 1000000]},
            "employees": {"type": "integer", "level": "L2", "bounds": [0, 10000]},
            "tax_paid": {"type": "float", "level": "L2", "bounds": [0, 100000]},
            "unbounded": {"type": "float", "level": "L2"},
            "listed": {"type": "boolean", "level": "L1"},
            "default_flag": {"type": "integer", "level": "L2", "domain": [0, 1]},
            "owner_id_number": {"type": "string", "level": "L4", "domain": ["x"]},
        },
    }
)
DATASETS = {"enterprises": ENTERPRISES}

STATS = """\
id: enterprise-stats
kind: statistics
dataset: enterprises
description: Counts and sums by district and industry
columns: [district, industry, founded_year, registered_capital, employees]
group_by: [district, industry]
measures: [count, sum, mean, histogram, quantile]
max_epsilon_per_query: 1.0
"""
TRAINING = """\
id: enterprise-default-lr
kind: training
dataset: enterprises
description: Default risk
family: logistic_regression
label: default_flag
features: [registered_capital, employees, tax_paid, listed, district]
bounds:
  {epochs: [1, 30], batch_size: [64, 4096], learning_rate: [0.01, 5.0], max_grad_norm: [0.1, 5]}
max_epsilon_per_job: 2.0
allow_gpu: false
"""
VERIFICATION = """\
id: capital-match
kind: verification
dataset: enterprises
description: Verify declared capital
key: uscc
claims: {registered_capital: {tolerance: 0}, employees: {tolerance: 2}}
score_features: [employees, tax_paid, listed]
"""


def write_models(tmp_path: Path, files: dict[str, str]) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    for name, text in files.items():
        (models / name).write_text(text, encoding="utf-8")
    return models


def problems_of(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load_products(write_models(tmp_path, files), DATASETS)
    return [(p.source, p.line, p.message) for p in caught.value.problems]


def test_valid_products_load(tmp_path: Path) -> None:
    models = write_models(
        tmp_path,
        {"b.yaml": STATS, "a.yaml": TRAINING, "c.yaml": VERIFICATION, "notes.txt": "ignored"},
    )
    products = load_products(models, DATASETS)
    assert list(products) == ["capital-match", "enterprise-default-lr", "enterprise-stats"]
    stats = products["enterprise-stats"]
    training = products["enterprise-default-lr"]
    verification = products["capital-match"]
    assert isinstance(stats, StatisticsProduct) and stats.group_by == ("district", "industry")
    assert isinstance(training, TrainingProduct) and training.bounds["epochs"] == (1.0, 30.0)
    assert isinstance(verification, VerificationProduct)
    assert verification.claims["employees"].tolerance == 2
    assert columns_read(stats) == {
        "district",
        "industry",
        "founded_year",
        "registered_capital",
        "employees",
    }
    assert columns_read(training) == {
        "default_flag",
        "registered_capital",
        "employees",
        "tax_paid",
        "listed",
        "district",
    }
    assert columns_read(verification) == {
        "uscc",
        "registered_capital",
        "employees",
        "tax_paid",
        "listed",
    }


def test_parameters_are_plain_json_data(tmp_path: Path) -> None:
    products = load_products(
        write_models(tmp_path, {"a.yaml": STATS, "b.yaml": TRAINING, "c.yaml": VERIFICATION}),
        DATASETS,
    )
    for product in products.values():
        parameters = product_parameters(product)
        assert json.loads(json.dumps(parameters)) == parameters  # no tuples, nothing exotic
    assert product_parameters(products["enterprise-default-lr"])["bounds"] == {
        "epochs": [1.0, 30.0],
        "batch_size": [64.0, 4096.0],
        "learning_rate": [0.01, 5.0],
        "max_grad_norm": [0.1, 5.0],
    }
    assert product_parameters(products["capital-match"])["claims"] == {
        "registered_capital": {"tolerance": 0.0, "unit": 1.0},
        "employees": {"tolerance": 2.0, "unit": 1.0},
    }
    stats = product_parameters(products["enterprise-stats"])
    assert stats["max_epsilon_per_query"] == 1.0 and stats["key_selection"] is False


def test_empty_directory_has_no_products(tmp_path: Path) -> None:
    assert load_products(write_models(tmp_path, {}), DATASETS) == {}


def test_missing_directory_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="not a directory"):
        load_products(tmp_path / "models", DATASETS)


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


ERRORS = {
    "bad id": (STATS, "id: enterprise-stats", "id: Enterprise_Stats", 1, "product ids must match"),
    "unknown kind": (STATS, "kind: statistics", "kind: magic", 2, "kind must be one of"),
    "unknown dataset": (STATS, "dataset: enterprises", "dataset: people", 3, "unknown dataset"),
    "unknown column": (STATS, "employees]", "staff]", 5, "'staff' is not in 'enterprises'"),
    "group_by outside columns": (STATS, "industry]\nmeasures", "street]\nmeasures", 6, "among"),
    "no public domain": (
        edit(STATS, "columns: [district,", "columns: [street, district,"),
        "industry]\nmeasures",
        "street]\nmeasures",
        6,
        "group_by column 'street' has no public domain",
    ),
    "unknown measure": (STATS, "quantile]", "median]", 7, "'count', 'sum'"),
    "duplicate measure": (STATS, "quantile]", "count]", 7, "unique"),
    "epsilon not positive": (STATS, "query: 1.0", "query: 0", 8, "greater than 0"),
    "sum without bounds": (STATS, "employees]", "unbounded]", 5, "needs public bounds"),
    "extra field": (STATS, "max_epsilon", "color: red\nmax_epsilon", 8, "color"),
    "label among features": (TRAINING, "listed, district]", "default_flag]", 7, "label cannot"),
    "unknown bounds key": (TRAINING, "{epochs:", "{momentum: [1, 2], epochs:", 9, "'epochs'"),
    "inverted bounds": (TRAINING, "[0.01, 5.0]", "[5.0, 0.01]", 9, "0 < low <= high"),
    "fractional epochs": (TRAINING, "[1, 30]", "[1, 2.5]", 8, "epochs: bounds must be integers"),
    "unknown family": (TRAINING, "logistic_regression", "forest", 5, "'mlp'"),
    "feature without bounds": (TRAINING, "tax_paid,", "unbounded,", 7, "needs public bounds"),
    "label not binary": (TRAINING, "label: default_flag", "label: founded_year", 6, "two-value"),
    "gpu not bool": (TRAINING, "allow_gpu: false", "allow_gpu: 'no'", 11, "valid boolean"),
    "key not entity key": (VERIFICATION, "key: uscc", "key: district", 5, "entity key 'uscc'"),
    "claim not numeric": (VERIFICATION, "employees: {", "street: {", 6, "integer or float"),
    "negative tolerance": (VERIFICATION, "tolerance: 2", "tolerance: -1", 6, "greater than or"),
    "float tolerance": (VERIFICATION, "tolerance: 2", "tolerance: 0.5", 6, "valid integer"),
    "no claims": (
        VERIFICATION,
        "claims: {registered",
        "claims: {}\nx: {registered",
        6,
        "at least one",
    ),
    "score feature unknown": (VERIFICATION, "tax_paid, listed]", "nope]", 7, "'nope' is not"),
    "missing description": (VERIFICATION, "description: Verify declared capital\n", "", 1, "desc"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_each_error_is_located(tmp_path: Path, case: str) -> None:
    text, old, new, line, fragment = ERRORS[case]
    found = problems_of(tmp_path, {"p.yaml": edit(text, old, new)})
    assert any(
        source == "models/p.yaml" and at == line and fragment in message
        for source, at, message in found
    ), found


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (edit(STATS, "employees]", "owner_id_number]"), 5),
        (edit(TRAINING, "listed, district]", "owner_id_number]"), 7),
        (edit(VERIFICATION, "tax_paid, listed]", "owner_id_number]"), 7),
    ],
)
def test_l4_columns_are_refused(tmp_path: Path, text: str, line: int) -> None:
    found = problems_of(tmp_path, {"p.yaml": text})
    assert [(at, "classified L4" in message) for _, at, message in found] == [(line, True)]


def test_key_selection_allows_group_by_without_domain(tmp_path: Path) -> None:
    text = edit(STATS, "columns: [district,", "columns: [street, district,")
    text = edit(text, "group_by: [district, industry]", "group_by: [street]\nkey_selection: true")
    products = load_products(write_models(tmp_path, {"p.yaml": text}), DATASETS)
    assert products["enterprise-stats"].key_selection  # type: ignore[union-attr]


def test_duplicate_ids_and_problems_in_many_files_reported_at_once(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        {
            "a.yaml": STATS,
            "b.yaml": "# again\n" + STATS,
            "c.yaml": "id: [unclosed\n",
            "d.yaml": edit(TRAINING, "dataset: enterprises", "dataset: nowhere"),
            "e.yaml": "- not\n- a mapping\n",
        },
    )
    assert [(source, line) for source, line, _ in found] == [
        ("models/b.yaml", 2),
        ("models/c.yaml", 2),
        ("models/d.yaml", 3),
        ("models/e.yaml", 1),
    ]
    assert "already used in models/a.yaml" in found[0][2]
    assert "invalid YAML" in found[1][2]
