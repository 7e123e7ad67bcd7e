"""DP validation metrics of a trained model, from OpenDP discrete Laplace noise.

The model is a DP output (of DP-SGD on the training rows); the metrics spend their own
``epsilon_metrics`` on the validation rows, split evenly over two integer aggregates, each
released through ``zone.products.statistics.mechanisms.release_laplace`` (OpenDP
``make_laplace`` on integers, privacy map checked). Neighbouring datasets add or remove one row:

* classification: half of ``epsilon_metrics`` for ``accuracy = noisy(correct) / (noisy(correct)
  + noisy(wrong))`` (each row is in exactly one of the two counts: one vector, L1 sensitivity
  1), half for ``auc``. An exact AUC ranks all validation rows, and one row moves many pairs;
  the DP AUC instead bins each row's logit on a public grid (``AUC_LOGIT_EDGES``: 10 bins, edge
  0 at probability 1/2) and counts rows per (class, bin): one vector of 20 counts in which each
  row is in exactly one cell (L1 sensitivity 1), released with discrete Laplace noise. The AUC
  of the noisy histograms (ties within a bin count one half; noisy counts are used as they are,
  unbiased, not clamped at 0) is a post-processing. Measured on simulated scores (6,500
  validation rows, AUC 0.82, half of epsilon_metrics = 0.05): RMSE 0.017, bias -0.004 (binning
  alone -0.006); with 1,000 rows it is noise (RMSE 0.10); it shrinks towards 1/2 as the
  noise grows. 1/2 is released when a noisy class total is not positive.
* regression: ``rmse = sqrt(noisy(sum of squared errors) / noisy(n))`` in label units. Each
  squared error is computed on the [0, 1]-scaled label with the prediction clamped to [0, 1],
  so it lies in [0, 1] (bounded by the label's public range), and is counted in integer units of
  ``SSE_UNIT`` (exact integer sums; sensitivity ``1 / SSE_UNIT`` units).

The noisy counts are used only as the denominator and are not released; results are clamped to
their public ranges (post-processing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from zone.products.statistics.mechanisms import laplace_scale, release_laplace
from zone.products.training.spec import TrainingSpec

SSE_UNIT = 1e-4
AUC_LOGIT_EDGES = (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0)
MECHANISM = (
    "discrete_laplace (OpenDP make_laplace), epsilon_metrics split evenly: classification "
    "(correct, wrong) counts for accuracy and (class, logit bin) counts for auc; regression "
    "the sum of squared errors and the count"
)


def _noisy(value: int, sensitivity: int, epsilon: float) -> int:
    scale = laplace_scale(sensitivity, epsilon)
    return release_laplace([value], sensitivity, scale, epsilon)[0]


def dp_metrics(
    spec: TrainingSpec, outputs: npt.NDArray[np.float64], targets: npt.NDArray[np.float64]
) -> dict[str, float]:
    """DP metrics of model ``outputs`` (logits or scaled predictions) against ``targets``."""
    half = spec.epsilon_metrics / 2
    if spec.family == "linear_regression":
        noisy_n = max(_noisy(len(targets), 1, half), 1)
        predictions = np.clip(outputs, 0.0, 1.0)
        squared = np.clip((predictions - targets) ** 2, 0.0, 1.0)
        units = int(np.rint(squared / SSE_UNIT).astype(np.int64).sum())
        noisy_sse = _noisy(units, round(1 / SSE_UNIT), half) * SSE_UNIT
        mse = min(max(noisy_sse / noisy_n, 0.0), 1.0)
        low, high = spec.label_scaling.bounds or (0.0, 1.0)
        return {"rmse": math.sqrt(mse) * (high - low)}
    outcome, ranks = classification_counts(outputs, targets)
    noisy_correct, noisy_wrong = _noisy_vector(outcome, half)
    accuracy = noisy_correct / max(noisy_correct + noisy_wrong, 1)
    noisy = _noisy_vector(ranks, half)
    width = len(ranks) // 2
    return {
        "accuracy": min(max(accuracy, 0.0), 1.0),
        "auc": binned_auc(noisy[:width], noisy[width:]),
    }


def classification_counts(
    outputs: npt.NDArray[np.float64], targets: npt.NDArray[np.float64]
) -> tuple[list[int], list[int]]:
    """The exact counts the classification metrics add noise to, each row in one cell of each.

    ``[correct, wrong]`` (a logit >= 0 predicts the positive class, a target >= 1/2 is
    positive), and the rows per logit bin of the positives then of the negatives.
    """
    positive = targets >= 0.5
    correct = int(np.count_nonzero((outputs >= 0.0) == positive))
    bins = np.searchsorted(np.array(AUC_LOGIT_EDGES), outputs, side="right")
    width = len(AUC_LOGIT_EDGES) + 1
    per_bin = [
        np.bincount(bins[positive], minlength=width),
        np.bincount(bins[~positive], minlength=width),
    ]
    return [correct, len(targets) - correct], [int(c) for counts in per_bin for c in counts]


def _noisy_vector(values: list[int], epsilon: float) -> list[int]:
    """Discrete Laplace on counts of disjoint rows (L1 sensitivity 1): epsilon-DP."""
    return release_laplace(values, 1, laplace_scale(1, epsilon), epsilon)


def binned_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """AUC of two histograms over the same ordered bins (ties within a bin count one half).

    Noisy counts may be negative; they are used as they are. 1/2 when a class total is not
    positive. Clamped to [0, 1].
    """
    total_positive, total_negative = float(sum(positives)), float(sum(negatives))
    if total_positive <= 0 or total_negative <= 0:
        return 0.5
    below = 0.0
    pairs = 0.0
    for positive, negative in zip(positives, negatives, strict=True):
        pairs += positive * (below + negative / 2)
        below += negative
    return min(max(pairs / (total_positive * total_negative), 0.0), 1.0)
