"""The demo product ``capital-match``'s Score model and the logit it must give, and kept models
made as a training worker leaves them, for Score tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from zonekit import REPO

from zone.jobs import JobStore
from zone.models.registry import ModelRegistry
from zone.server.app import RunningZone

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


def save_kept_model(
    zone: RunningZone,
    owner: str,
    columns: Mapping[str, tuple[float, float]],
    weights: Sequence[float],
    *,
    intercept: float = 0.25,
    trained_on: str = "",
) -> tuple[str, dict[str, Any]]:
    """A kept logistic regression on numeric zone ``columns`` (name -> public bounds) with the
    ``weights`` given, saved as a training worker leaves one (the worker is not run): its id
    and the model. ``trained_on``: the dataset version its job names as read ('' for none).
    """
    scaling = [{"column": c, "kind": "numeric", "bounds": list(b)} for c, b in columns.items()]
    label = {"column": "default_flag", "kind": "binary", "classes": [0, 1]}
    model = {
        "family": "logistic_regression",
        "features": list(columns),
        "weights": [float(w) for w in weights],
        "intercept": intercept,
        "scaling": {"features": scaling, "label": label},
    }
    spec: dict[str, Any] = {"keep_in_zone": True}
    if trained_on:
        spec["dataset_version"] = trained_on
    job = JobStore(zone.services.store, zone.services.audit).create(
        principal=owner, product="enterprise-default-lr", dataset="enterprises", spec=spec,
        release_id="",
    )  # fmt: skip
    model_id = ModelRegistry(zone.services.store, zone.services.audit).save_model(
        owner=owner, product="enterprise-default-lr", job_id=job.job_id, model=model, metrics={}
    )
    return model_id, model
