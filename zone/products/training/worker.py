"""The DP training job, run inside a worker process (the only importer of torch and opacus).

Events, in order, through ``emit`` (the executor itself sends ``started`` when the process
starts, and the terminal event on failure):

1. ``{"event": "touched_data"}`` immediately before the dataset is first read: a failure before
   it read nothing (the caller may refund), a failure after it is charged;
2. ``{"event": "progress", "epoch": e, "epsilon_spent": x}`` once per epoch (``x`` an upper
   bound on the training epsilon spent so far; after the last epoch the PRV accountant's, see
   ``dpsgd``);
3. ``{"event": "result", **result}``: the release, its keys next to ``event`` (see :func:`run`).

Exceptions propagate; the executor reports them (their messages are public: no data in them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import zone.products.training.data as data
import zone.products.training.dpsgd as dpsgd
import zone.products.training.metrics as metrics
from zone.errors import ZoneError
from zone.products.training.model import outputs, released_weights, split_rows
from zone.products.training.spec import ACCOUNTANT, GUARANTEE, TrainingSpec

Emit = Callable[[dict[str, Any]], None]


class NoTrainingRows(ZoneError):
    """No usable rows were left to train on (every row had a NULL, or the table is empty)."""

    def __init__(self) -> None:
        super().__init__("no usable training rows", reason="no_training_rows")


def _device(spec: TrainingSpec) -> torch.device:
    if spec.use_cuda and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


def run(spec_json: str, emit: Emit) -> None:
    """Train the spec's model with DP-SGD and emit the release.

    Guarantee: (epsilon, delta)-DP with respect to adding or removing one entity (= one row of
    the dataset). DP-SGD (Opacus: per-example gradient clipping to ``max_grad_norm``, Gaussian
    noise) with Poisson sampling at the public sample rate ``spec.sample_rate``, for exactly
    ``spec.steps`` steps, accounted by the PRV accountant at ``(epsilon_training, delta)``;
    plus ``epsilon_metrics``-DP validation metrics (OpenDP discrete Laplace). By basic
    composition the whole release is ``(epsilon_training + epsilon_metrics, delta)``-DP, and
    ``epsilon_training + epsilon_metrics <= epsilon``. The release is a function of the DP-SGD
    iterates (weights: their average over the last half of the steps), the DP metrics and
    public numbers only (no row counts, no validation sizes).

    The result: ``family``, ``features`` (model input names, categorical columns expanded as
    ``column=value``), ``weights`` and ``intercept`` (for the mlp one list per layer),
    ``scaling`` (the public input and label scaling), ``metrics`` (``accuracy`` or ``rmse``),
    ``metrics_mechanism``, ``epsilon_training`` (accountant), ``epsilon_metrics``,
    ``epsilon_spent`` (their sum), ``delta``, ``accountant``, ``noise_multiplier``,
    ``sample_rate``, ``steps``, ``device``, ``epochs_run``, ``train_seconds``, ``guarantee``.
    ``train_seconds`` is a timing, weakly dependent on the data (batch sizes follow the row
    count): the caller should keep it in the zone (logs, audit) rather than release it.

    Args:
        spec_json: :meth:`TrainingSpec.to_json` output.
        emit: receives each event (a JSON-able dict).
    """
    spec = TrainingSpec.from_json(spec_json)
    torch.set_num_threads(1)
    device = _device(spec)
    calibration = dpsgd.calibrate(spec)  # public numbers only: a failure here is refundable
    emit({"event": "touched_data"})
    rows = data.load(spec)
    x, y = torch.from_numpy(rows.x), torch.from_numpy(rows.y)
    if rows.holdout is None:  # a fresh split from OS entropy
        (train_x, train_y), (val_x, val_y) = split_rows(x, y, spec.validation_fraction)
    else:  # the product's seeded split (``data``): the same entities in every job
        held = torch.from_numpy(rows.holdout)
        (train_x, train_y), (val_x, val_y) = (x[~held], y[~held]), (x[held], y[held])
    if len(train_y) == 0:
        raise NoTrainingRows()

    def progress(epoch: int, epsilon: float) -> None:
        emit({"event": "progress", "epoch": epoch, "epsilon_spent": epsilon})

    trained = dpsgd.train(spec, train_x.to(device), train_y.to(device), calibration, progress)
    weights, intercept = released_weights(spec, trained.model)
    predicted = outputs(trained.model, val_x.to(device)).numpy()
    scores = metrics.dp_metrics(spec, predicted, val_y.double().numpy())
    result: dict[str, Any] = {
        "family": spec.family,
        "features": list(spec.input_names),
        "weights": weights,
        "intercept": intercept,
        "scaling": {
            "features": [s.to_dict() for s in spec.scaling],
            "label": spec.label_scaling.to_dict(),
        },
        "metrics": scores,
        "metrics_mechanism": metrics.MECHANISM,
        "epsilon_training": trained.epsilon,
        "epsilon_metrics": spec.epsilon_metrics,
        "epsilon_spent": trained.epsilon + spec.epsilon_metrics,
        "delta": spec.delta,
        "accountant": ACCOUNTANT,
        "noise_multiplier": calibration.noise_multiplier,
        "sample_rate": spec.sample_rate,
        "steps": spec.steps,
        "device": _device_name(device),
        "epochs_run": trained.epochs_run,
        "train_seconds": trained.seconds,
        "guarantee": GUARANTEE,
    }
    if not result["epsilon_spent"] <= spec.epsilon:
        raise dpsgd.PrivacyCheckFailed()
    emit({"event": "result", **result})
