"""The joint training job, run inside a worker process (torch and opacus live here only).

Events as the training worker's (``zone.products.training.worker``): ``touched_data`` just
before the cohort and the dataset are first read (a failure before it is refunded), one
``progress`` per epoch, then ``result``. Epsilons in progress and result are replace-one
epsilons (twice the add/remove epsilon of DP-SGD, plus the metrics'), as charged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import zone.products.joint.data as data
import zone.products.joint.metrics as metrics
import zone.products.training.dpsgd as dpsgd
from zone.errors import ZoneError
from zone.products.joint.plan import ACCOUNTING, GUARANTEE, JointSpec
from zone.products.training.model import outputs, released_weights, split_rows
from zone.products.training.spec import ACCOUNTANT

Emit = Callable[[dict[str, Any]], None]


class EmptyCohort(ZoneError):
    """No training rows were drawn (the cohort is its owner's: saying so reveals nothing)."""

    def __init__(self) -> None:
        super().__init__("no training rows", reason="no_training_rows")


def scaling(spec: JointSpec) -> dict[str, Any]:
    """The released description of the inputs (public bounds and domains) and the label."""
    return {
        "zone": [s.to_dict() for s in spec.zone_scaling],
        "missing_indicator": "zone.missing",
        "operator": [s.to_dict() for s in spec.operator_scaling],
        "label": spec.label.to_dict(),
        "inputs": list(spec.input_names),
    }


def _metrics(spec: JointSpec, predicted: Any, targets: Any) -> dict[str, float]:
    if spec.training.family == "linear_regression":
        low, high = spec.label.bounds or (0.0, 1.0)
        return metrics.regression(predicted, targets, spec.epsilon_metrics, high - low)
    return metrics.classification(predicted, targets, spec.epsilon_metrics)


def run(spec_json: str, emit: Emit) -> None:
    """Train the joint model with DP-SGD and emit the release.

    Guarantee: ``plan.GUARANTEE`` (replace-one on the zone side; DP-SGD at (epsilon_dpsgd,
    delta_dpsgd) add/remove, PRV accountant; group privacy doubles it; DP metrics add
    epsilon_metrics). The release is a function of the DP-SGD iterates (tail-averaged weights),
    the DP metrics and public numbers (no row counts, no match counts, no timings).
    """
    spec = JointSpec.from_json(spec_json)
    torch.set_num_threads(1)
    calibration = dpsgd.calibrate(spec.training)  # public numbers only: refundable
    emit({"event": "touched_data"})
    rows = data.load(spec)
    (train_x, train_y), (val_x, val_y) = split_rows(
        torch.from_numpy(rows.x), torch.from_numpy(rows.y), spec.training.validation_fraction
    )
    del rows
    if len(train_y) == 0:
        raise EmptyCohort()

    def progress(epoch: int, epsilon: float) -> None:
        emit({"event": "progress", "epoch": epoch, "epsilon_spent": 2 * epsilon})

    trained = dpsgd.train(spec.training, train_x, train_y, calibration, progress)
    weights, intercept = released_weights(spec.training, trained.model)
    predicted = outputs(trained.model, val_x).numpy()
    scores = _metrics(spec, predicted, val_y.double().numpy())
    spent = 2 * trained.epsilon + spec.epsilon_metrics
    result: dict[str, Any] = {
        "family": spec.training.family,
        "features": list(spec.input_names),
        "weights": weights,
        "intercept": intercept,
        "scaling": scaling(spec),
        "metrics": scores,
        "metrics_mechanism": metrics.MECHANISM,
        "epsilon_training": 2 * trained.epsilon,
        "epsilon_metrics": spec.epsilon_metrics,
        "epsilon_spent": spent,
        "epsilon_dpsgd": trained.epsilon,
        "delta_dpsgd": spec.delta_dpsgd,
        "delta": spec.delta,
        "accountant": ACCOUNTANT,
        "accounting": ACCOUNTING,
        "neighbouring": "replace-one zone subject",
        "noise_multiplier": calibration.noise_multiplier,
        "sample_rate": spec.training.sample_rate,
        "steps": spec.training.steps,
        "device": "cpu",
        "epochs_run": trained.epochs_run,
        "train_seconds": trained.seconds,
        "upload_id": spec.upload_id,
        "guarantee": GUARANTEE,
    }
    if not spent <= spec.epsilon:
        raise dpsgd.PrivacyCheckFailed()
    emit({"event": "result", **result})
