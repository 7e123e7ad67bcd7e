"""DP validation metrics of a trained model, from OpenDP discrete Laplace noise.

The model is a DP output (of DP-SGD on the training rows); the metrics spend their own
``epsilon_metrics`` on the validation rows, split evenly over two integer aggregates, each
released through ``zone.products.statistics.mechanisms.release_laplace`` (OpenDP
``make_laplace`` on integers, privacy map checked). Neighbouring datasets add or remove one row:

* classification: ``accuracy = noisy(correct) / noisy(n)``; one row changes each count by at
  most 1. Only accuracy is released: a DP AUC would need a ranking over all validation rows, in
  which one row moves many pairs, and is not offered.
* regression: ``rmse = sqrt(noisy(sum of squared errors) / noisy(n))`` in label units. Each
  squared error is computed on the [0, 1]-scaled label with the prediction clamped to [0, 1],
  so it lies in [0, 1] (bounded by the label's public range), and is counted in integer units of
  ``SSE_UNIT`` (exact integer sums; sensitivity ``1 / SSE_UNIT`` units).

The noisy counts are used only as the denominator and are not released; results are clamped to
their public ranges (post-processing).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from zone.products.statistics.mechanisms import laplace_scale, release_laplace
from zone.products.training.spec import TrainingSpec

SSE_UNIT = 1e-4
MECHANISM = "discrete_laplace (OpenDP make_laplace), epsilon_metrics split evenly over two counts"


def _noisy(value: int, sensitivity: int, epsilon: float) -> int:
    scale = laplace_scale(sensitivity, epsilon)
    return release_laplace([value], sensitivity, scale, epsilon)[0]


def dp_metrics(
    spec: TrainingSpec, outputs: npt.NDArray[np.float64], targets: npt.NDArray[np.float64]
) -> dict[str, float]:
    """DP metrics of model ``outputs`` (logits or scaled predictions) against ``targets``."""
    half = spec.epsilon_metrics / 2
    noisy_n = max(_noisy(len(targets), 1, half), 1)
    if spec.family == "linear_regression":
        predictions = np.clip(outputs, 0.0, 1.0)
        squared = np.clip((predictions - targets) ** 2, 0.0, 1.0)
        units = int(np.rint(squared / SSE_UNIT).astype(np.int64).sum())
        noisy_sse = _noisy(units, round(1 / SSE_UNIT), half) * SSE_UNIT
        mse = min(max(noisy_sse / noisy_n, 0.0), 1.0)
        low, high = spec.label_scaling.bounds or (0.0, 1.0)
        return {"rmse": math.sqrt(mse) * (high - low)}
    correct = int(np.count_nonzero((outputs >= 0.0) == (targets >= 0.5)))
    noisy_correct = _noisy(correct, 1, half)
    return {"accuracy": min(max(noisy_correct / noisy_n, 0.0), 1.0)}
