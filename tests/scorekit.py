"""The demo product ``capital-match``'s Score model and the logit it must give, for Score tests."""

from __future__ import annotations

import yaml
from zonekit import REPO

PRODUCT = "capital-match"
PRODUCT_YAML = yaml.safe_load((REPO / "models" / "capital-match.yaml").read_text())
MODEL = PRODUCT_YAML["score_model"]
RESOLUTION = float(PRODUCT_YAML["score_resolution"])
BOUNDS = {"employees": (0, 5000), "insured_staff": (0, 5000), "tax_paid": (0, 50000),
          "utility_arrears": (0, 500), "penalties": (0, 20), "founded_year": (1980, 2025),
          "registered_capital": (0, 100000)}  # fmt: skip


def expected_logit(row: dict[str, str], loan: float, overdue: float) -> float:
    """The model's logit for a registry ``row`` and the caller's loan and days overdue."""
    weights = MODEL["weights"]
    total = MODEL["intercept"] + weights["loan_amount"] * loan / 5000
    total += weights["days_overdue"] * overdue / 365
    for name in MODEL["zone_features"]:
        low, high = BOUNDS[name]
        total += weights[name] * (min(max(float(row[name]), low), high) - low) / (high - low)
    return float(total)
