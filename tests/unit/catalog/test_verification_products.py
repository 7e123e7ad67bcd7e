"""Verification products: claim units and ranges, abuse limits, the scoring model; every problem
located at its line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from zone.catalog import VerificationProduct, load_products, product_parameters
from zone.errors import ValidationFailed

_SPEC = importlib.util.spec_from_file_location(
    "catalog_product_tests", Path(__file__).with_name("test_products.py")
)
assert _SPEC is not None and _SPEC.loader is not None
_BASE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_BASE)
DATASETS = _BASE.DATASETS

PRODUCT = """\
id: capital-match
kind: verification
dataset: enterprises
description: Verify declared capital
key: uscc
claims: {registered_capital: {tolerance: 0, unit: 0.1}, employees: {tolerance: 2}}
score_features: [employees, tax_paid, listed]
limits: {checks_per_subject: 2, window_hours: 12, score_queries_per_model: 50}
score_model:
  caller_features: [{name: loan_amount, bounds: [0, 5000]}]
  zone_features: [employees, listed]
  weights: {loan_amount: 1.0, employees: -0.5, listed: 0.5}
  intercept: -1.0
min_zone_features: 2
"""


def load(tmp_path: Path, text: str) -> dict[str, object]:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "p.yaml").write_text(text, encoding="utf-8")
    return dict(load_products(models, DATASETS))


def problems(tmp_path: Path, text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load(tmp_path, text)
    return [(p.line, p.message) for p in caught.value.problems]


def test_full_product_loads_and_hides_the_weights(tmp_path: Path) -> None:
    product = load(tmp_path, PRODUCT)["capital-match"]
    assert isinstance(product, VerificationProduct)
    assert product.claims["registered_capital"].unit == 0.1
    assert product.limits.checks_per_subject == 2 and product.limits.max_subjects_per_call == 16384
    parameters = product_parameters(product)
    assert parameters["param_sets"] == {"match": "oprf-ristretto255-sha512", "score": "ckks-8192"}
    assert parameters["membership"] == "disclosed" and parameters["consent"] == "operator"
    model = parameters["score_model"]
    assert isinstance(model, dict) and "weights" not in model and "intercept" not in model
    assert model["caller_weights"] == {"loan_amount": 1.0}  # published: see _verification.py
    assert model["caller_features"] == [{"name": "loan_amount", "bounds": [0.0, 5000.0]}]


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("unit: 0.1", "unit: 1.0e-13", 6, "above the 9007199254740992"),
        ("key: uscc", "key: uscc\nmembership: hidden", 1, "cannot score"),
        ("key: uscc", "key: uscc\nmembership: clear", 6, "'disclosed' or 'hidden'"),
        ("tolerance: 2", "tolerance: 6", 6, "less than or equal to 5"),
        ("unit: 0.1", "unit: 0", 6, "greater than 0"),
        ("employees: {tolerance", "unbounded: {tolerance", 6, "needs public bounds"),
        ("[employees, tax_paid, listed]", "[employees, unbounded, listed]", 7, "public bounds"),
        ("checks_per_subject: 2", "checks_per_subject: 0", 8, "greater than or equal to 1"),
        (
            "listed]\n  weights: {loan_amount: 1.0, employees: -0.5, listed: 0.5}",
            "founded_year]\n  weights: {loan_amount: 1.0, employees: -0.5, founded_year: 0.5}",
            9,
            "among score_features",
        ),
        ("listed: 0.5}", "listed: 0.5, extra: 1}", 9, "exactly once"),
        ("[0, 5000]", "[5000, 0]", 10, "low < high"),
    ],
)
def test_each_problem_is_located(
    tmp_path: Path, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in PRODUCT
    found = problems(tmp_path, PRODUCT.replace(old, new))
    assert any(at == line and fragment in message for at, message in found), found


def test_consent_defaults_to_operator(tmp_path: Path) -> None:
    product = load(tmp_path, PRODUCT)["capital-match"]
    assert isinstance(product, VerificationProduct) and product.consent == "operator"


@pytest.mark.parametrize("mode", ["none", "operator", "issuer"])
def test_consent_modes_load(tmp_path: Path, mode: str) -> None:
    product = load(tmp_path, PRODUCT + f"consent: {mode}\n")["capital-match"]
    assert isinstance(product, VerificationProduct) and product.consent == mode


def test_an_unknown_consent_mode_is_reported_at_its_line(tmp_path: Path) -> None:
    [(line, message)] = problems(tmp_path, PRODUCT + "consent: subject\n")
    assert line == PRODUCT.count("\n") + 1
    assert message.startswith("consent: Input should be 'none', 'operator' or 'issuer'")


@pytest.mark.parametrize(
    ("rules", "zone_weights", "expected"),
    [
        ("", "{employees: -0.5, listed: 0.25}", "2 zone feature(s) carry at least 2%"),
        # Shares are of the zone part: the caller can zero its own inputs, so a large caller
        # weight (loan_amount 1.0) no longer hides that employees is 98% of what it reads.
        ("min_zone_features: 1\n", "{employees: -0.5, listed: 0.01}", "above the maximum share"),
        ("min_zone_features: 1\nmax_zone_feature_share: 1\n", "{employees: -0.5}", None),
        ("min_zone_features: 2\n", "{employees: -9.0, listed: 0.5}", "above the maximum share"),
        ("min_zone_features: 2\n", "{employees: -5.0, listed: 0.01}", "carry at least 2%"),
        (
            "min_zone_features: 2\nmax_zone_feature_share: 0.96\n",
            "{employees: -9.0, listed: 0.5}",
            "move the score by more than max_zone_weight 5",
        ),
        (
            "min_zone_features: 2\nmax_zone_feature_share: 0.96\nmax_zone_weight: 10\n",
            "{employees: -9.0, listed: 0.5}",
            None,
        ),
    ],
)
def test_the_products_own_model_follows_its_scoring_rules(
    tmp_path: Path, rules: str, zone_weights: str, expected: str | None
) -> None:
    weights = "{loan_amount: 1.0, " + zone_weights[1:]
    text = (PRODUCT.replace("min_zone_features: 2\n", rules)
            .replace("{loan_amount: 1.0, employees: -0.5, listed: 0.5}", weights))  # fmt: skip
    if "listed" not in zone_weights:
        text = text.replace("zone_features: [employees, listed]", "zone_features: [employees]")
    if expected is None:
        assert "capital-match" in load(tmp_path, text)
    else:
        assert any(expected in message for _, message in problems(tmp_path, text))
